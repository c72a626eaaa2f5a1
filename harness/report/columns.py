"""One spec of a stage's columns, read by the console table, stages.csv and the web UI tab.

Each column names a StageSummary field (and a statistic of it for distributions), how
it is shown to a reader (title, scale to the shown unit, format) and where it appears.
stages.csv keeps raw values in the field's own unit under `name`; the console and the
web UI show scaled, rounded values under `title`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.results import DEFAULT_PERCENTILES, StageSummary, percentile_key

CONSOLE, CSV, WEB = "console", "csv", "web"
ALL = frozenset({CONSOLE, CSV, WEB})


@dataclass(frozen=True)
class StageColumn:
    """One column of the stage tables: where its value comes from and how it is shown."""

    name: str  # the stages.csv header, in the field's own unit (e.g. p99_ttft_s)
    field: str  # a StageSummary key
    statistic: str | None  # for a distribution: mean, p50, p90, p99, ...
    title: str  # heading for readers, with the shown unit
    scale: float = 1.0  # field unit -> shown unit (1000: s -> ms)
    shown_as: str = "{}"  # format of the shown value
    views: frozenset[str] = ALL
    optional: bool = False  # left out of the console and web views when no stage has a value
    plus_minus: bool = False  # shown with ± half its 95 % interval (the wider side)
    bounds: bool = False  # stages.csv also has its interval: <name>_low, <name>_high

    def value(self, stage: StageSummary) -> Any:
        """The raw value (None when there is none yet); a statistic with slashes walks nested figures."""
        value: Any = stage.get(self.field)  # a summary.json from before a field existed lacks it
        for key in self.statistic.split("/") if self.statistic is not None else ():
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def shown(self, stage: StageSummary) -> str:
        """The value as a reader sees it; "-" when there is none; "few" for a percentile that is only the
        stage's maximum (too few values to tell it); with ± half its 95 % interval where asked."""
        value = self.value(stage)
        if value is None:
            return "-"
        figures: Any = stage.get(self.field)
        if isinstance(figures, dict) and self.statistic in figures.get("few", ()):
            return "few"
        text = self.shown_as.format(value * self.scale if self.scale != 1 else value)
        if self.plus_minus and isinstance(figures, dict):
            low, high = (figures.get("ci") or {}).get(self.statistic) or (None, None)
            if low is None or high is None:
                return text + "±?"
            text += "±" + self.shown_as.format(max(high - value, value - low) * self.scale)
        return text

    def bound(self, stage: StageSummary, side: int) -> Any:
        """One side (0 low, 1 high) of the value's 95 % interval, raw; None when there is none."""
        figures: Any = stage.get(self.field)
        if self.statistic is not None and isinstance(figures, dict):
            own = figures.get(f"{self.statistic}_ci")  # a share's Wilson interval beside it (underrun_share_ci)
            return (own or (figures.get("ci") or {}).get(self.statistic) or (None, None))[side]
        interval: Any = stage.get(f"{self.field}_ci") or (None, None)  # "<field>_ci": rps_ci, success_rate_ci
        return interval[side]

    @property
    def web_key(self) -> str:
        """The web UI row key: the name in the shown unit."""
        return self.name.removesuffix("_s") + "_ms" if self.scale == 1000 else self.name


def _ms_nested(name: str, field: str, path: str, title: str) -> StageColumn:
    """An optional column in ms, read along a slash-separated path inside `field`."""
    return StageColumn(name, field, path, title, 1000, "{:.1f}", ALL, True)


_CONSOLE_CSV = frozenset({CONSOLE, CSV})
_CSV_WEB = frozenset({CSV, WEB})


@dataclass(frozen=True)
class _Timing:
    """A timing distribution's columns: its mean, each percentile of the run's set, its standard deviation."""

    field: str  # latency_s, ttft_s, ...
    short: str  # the column names' middle: latency, ttft
    title: str  # Lat., TTFT
    scale: float  # 1 (shown in s) or 1000 (ms)
    digits: int
    mean_views: frozenset[str]
    percentile_views: frozenset[str]
    plus_minus: bool = False  # percentiles shown with ± on the console
    optional: bool = False  # only where a stage has it (--audio-output's)
    unit: str | None = None  # the shown unit; default s or ms by scale ("" for a ratio)

    def columns(self, percentiles: Sequence[float]) -> tuple[StageColumn, ...]:
        unit = self.unit if self.unit is not None else "s" if self.scale == 1 else "ms"
        unit_text = f"({unit})" if unit else ""
        shown_as = f"{{:.{self.digits}f}}"

        def column(
            statistic: str, label: str, views: frozenset[str], bounds: bool = False, prefix: str | None = None
        ) -> StageColumn:
            return StageColumn(
                f"{prefix or statistic}_{self.short}{self.suffix}",
                self.field,
                statistic,
                f"{label} {self.title}{unit_text}",
                self.scale,
                shown_as,
                views,
                self.optional,
                plus_minus=self.plus_minus and statistic not in ("mean", "std"),
                bounds=bounds,
            )

        return (
            column("mean", "Avg", self.mean_views, prefix="avg"),
            *(
                column(percentile_key(p), percentile_key(p).upper(), self.percentile_views, bounds=True)
                for p in percentiles
            ),
            column("std", "Std", _CSV_WEB),
        )

    @property
    def suffix(self) -> str:
        """The column names' unit ending: _s for times, none for a ratio."""
        return "" if self.unit == "" else "_s"


_TIMINGS = (
    _Timing("latency_s", "latency", "Lat.", 1, 3, _CONSOLE_CSV, ALL),
    _Timing("ttft_s", "ttft", "TTFT", 1000, 1, _CONSOLE_CSV, ALL, plus_minus=True),
    _Timing("tpot_s", "tpot", "TPOT", 1000, 2, _CONSOLE_CSV, ALL),
    _Timing("itl_s", "itl", "ITL", 1000, 2, frozenset({CSV}), _CSV_WEB),
    # --audio-output: the spoken answers (harness/playback.py)
    _Timing("ttfa_s", "ttfa", "TTFA", 1000, 1, _CONSOLE_CSV, ALL, plus_minus=True, optional=True),
    _Timing("audio_rtf", "rtf", "RTF", 1, 2, frozenset({CSV}), _CSV_WEB, optional=True, unit=""),
)

_HEAD: tuple[StageColumn, ...] = (
    StageColumn("stage", "stage", None, "Stage", views=frozenset({CSV})),  # numbered from 1, as the console says
    StageColumn("class", "request_class", None, "Class", optional=True),  # --mix: "all", then each class
    StageColumn("parallel", "parallel", None, "Conc."),
    StageColumn("rate_rps", "rate_rps", None, "Rate", shown_as="{:g}", optional=True),
    StageColumn("number", "number", None, "Number", views=_CSV_WEB),
    StageColumn("sent", "sent", None, "Sent"),
    StageColumn("succeeded", "succeeded", None, "Succeeded", views=frozenset({CSV})),
    StageColumn("failed", "failed", None, "Failed", views=_CSV_WEB),
    StageColumn("wall_time_s", "wall_time_s", None, "Wall (s)", views=frozenset({CSV})),
    StageColumn("rps", "rps", None, "RPS", shown_as="{:.2f}", views=_CONSOLE_CSV, bounds=True),
)

_TAIL: tuple[StageColumn, ...] = (
    StageColumn("output_tokens_per_s", "output_tokens_per_s", None, "Gen. tok/s", shown_as="{:.1f}", bounds=True),
    StageColumn("goodput_rps", "goodput_rps", None, "Goodput", shown_as="{:.2f}", optional=True),
    StageColumn("p99_lateness_s", "lateness_s", "p99", "P99 Late(ms)", 1000, "{:.1f}", optional=True),
    StageColumn(
        "total_tokens_per_s", "total_tokens_per_s", None, "Total tok/s", shown_as="{:.1f}", views=_CSV_WEB, bounds=True
    ),
    StageColumn(
        "success_rate", "success_rate", None, "Success", 100, "{:.1f}%", frozenset({CSV, CONSOLE}), bounds=True
    ),
    # what the requests carried, per second of the stage (sent requests)
    StageColumn("request_bytes_mean", "media", "request_bytes_mean", "Req KB", 1 / 1024, "{:.1f}", _CSV_WEB, True),
    StageColumn("images_per_s", "media", "images_per_s", "Images/s", shown_as="{:.2f}", views=_CSV_WEB, optional=True),
    StageColumn(
        "audio_s_per_s", "media", "audio_s_per_s", "Audio s/s", shown_as="{:.2f}", views=_CSV_WEB, optional=True
    ),
    StageColumn(
        "video_s_per_s", "media", "video_s_per_s", "Video s/s", shown_as="{:.2f}", views=_CSV_WEB, optional=True
    ),
    # --audio-output: speech received per second, and how often (and how long) players ran dry
    StageColumn("speech_s_per_s", "speech", "audio_s_per_s", "Speech s/s", shown_as="{:.2f}", optional=True),
    StageColumn("underrun_share", "speech", "underrun_share", "Underrun", 100, "{:.1f}%", optional=True, bounds=True),
    StageColumn("underrun_s", "speech", "underrun_s", "Dry (s)", shown_as="{:.2f}", views=_CSV_WEB, optional=True),
    # the server's prompt cache (when it reports cached tokens), and --multi-turn's first and later turns
    StageColumn("cached_share", "cache", "cached_share", "Cached", 100, "{:.1f}%", ALL, True),
    _ms_nested("first_turn_p50_ttft_s", "turns", "first/ttft_s/p50", "1st turn P50 TTFT(ms)"),
    _ms_nested("later_turn_p50_ttft_s", "turns", "later/ttft_s/p50", "Later P50 TTFT(ms)"),
    # --probe-rate: the text probes sent while the stage ran, apart from its figures
    StageColumn("probe_sent", "probe", "sent", "Probes", views=_CSV_WEB, optional=True),
    StageColumn("probe_p50_ttft_s", "probe", "ttft_s/p50", "Probe P50 TTFT(ms)", 1000, "{:.1f}", _CSV_WEB, True),
    StageColumn("probe_p90_ttft_s", "probe", "ttft_s/p90", "Probe P90 TTFT(ms)", 1000, "{:.1f}", _CSV_WEB, True),
)


def stage_columns(percentiles: Sequence[float] = DEFAULT_PERCENTILES) -> tuple[StageColumn, ...]:
    """Every column, in order, for a run's --percentiles set (each timing metric: its mean, each percentile
    of the set with its 95 % interval, its standard deviation)."""
    return (*_HEAD, *(column for timing in _TIMINGS for column in timing.columns(percentiles)), *_TAIL)


def percentiles_of(stages: Sequence[StageSummary]) -> tuple[float, ...]:
    """The --percentiles set of the runs these stages came from (their union; the default for older runs)."""
    found = {p for stage in stages for p in stage.get("percentiles") or DEFAULT_PERCENTILES}
    return tuple(sorted(found)) if found else DEFAULT_PERCENTILES


def columns_for(view: str, stages: Sequence[StageSummary] = ()) -> tuple[StageColumn, ...]:
    """The columns one view shows, in order, for the stages' --percentiles set (optional ones only when one of
    `stages` has a value; stages.csv keeps every column, so its header changes only with the set)."""
    return tuple(
        column
        for column in stage_columns(percentiles_of(stages))
        if view in column.views
        and (view == CSV or not column.optional or any(column.value(stage) is not None for stage in stages))
    )


def with_class_rows(stages: Sequence[StageSummary]) -> list[StageSummary]:
    """The stages as table rows: a mix's stage as its overall row (class "all") followed by one row per class."""
    rows: list[StageSummary] = []
    for stage in stages:
        classes = stage.get("classes")
        if not classes:
            rows.append(stage)
            continue
        rows.append(StageSummary(**{**stage, "request_class": "all"}))
        for name, figures in classes.items():
            row = StageSummary(**{**figures, "request_class": name})
            for key in ("stage", "rate_rps"):
                if key in stage:
                    row[key] = stage[key]
            rows.append(row)
    return rows
