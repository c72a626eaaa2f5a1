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

from harness.results import StageSummary

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
        """The raw value (None when there is none yet); a dotted statistic walks nested figures."""
        value: Any = stage.get(self.field)  # a summary.json from before a field existed lacks it
        for key in self.statistic.split(".") if self.statistic is not None else ():
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
            return ((figures.get("ci") or {}).get(self.statistic) or (None, None))[side]
        interval: Any = stage.get(f"{self.field}_ci") or (None, None)  # "<field>_ci": rps_ci, success_rate_ci
        return interval[side]

    @property
    def web_key(self) -> str:
        """The web UI row key: the name in the shown unit."""
        return self.name.removesuffix("_s") + "_ms" if self.scale == 1000 else self.name


def _ms(name: str, field: str, statistic: str, title: str, views: frozenset[str] = ALL, digits: int = 1) -> StageColumn:
    return StageColumn(name, field, statistic, title, 1000, f"{{:.{digits}f}}", views)


def _ms_nested(name: str, field: str, path: str, title: str) -> StageColumn:
    """An optional column in ms, read along a dotted path inside `field`."""
    return StageColumn(name, field, path, title, 1000, "{:.1f}", ALL, True)


_CONSOLE_CSV = frozenset({CONSOLE, CSV})
_CSV_WEB = frozenset({CSV, WEB})

STAGE_COLUMNS: tuple[StageColumn, ...] = (
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
    StageColumn("avg_latency_s", "latency_s", "mean", "Avg Lat.(s)", shown_as="{:.3f}", views=_CONSOLE_CSV),
    StageColumn("p50_latency_s", "latency_s", "p50", "P50 Lat.(s)", shown_as="{:.3f}", views=_CSV_WEB),
    StageColumn("p90_latency_s", "latency_s", "p90", "P90 Lat.(s)", shown_as="{:.3f}", views=_CSV_WEB),
    StageColumn("p99_latency_s", "latency_s", "p99", "P99 Lat.(s)", shown_as="{:.3f}", views=_CONSOLE_CSV),
    _ms("avg_ttft_s", "ttft_s", "mean", "Avg TTFT(ms)", _CONSOLE_CSV),
    StageColumn("p50_ttft_s", "ttft_s", "p50", "P50 TTFT(ms)", 1000, "{:.1f}", plus_minus=True, bounds=True),
    StageColumn("p90_ttft_s", "ttft_s", "p90", "P90 TTFT(ms)", 1000, "{:.1f}", plus_minus=True, bounds=True),
    _ms("p99_ttft_s", "ttft_s", "p99", "P99 TTFT(ms)"),
    _ms("avg_tpot_s", "tpot_s", "mean", "Avg TPOT(ms)", _CONSOLE_CSV, 2),
    _ms("p50_tpot_s", "tpot_s", "p50", "P50 TPOT(ms)", digits=2),
    _ms("p99_tpot_s", "tpot_s", "p99", "P99 TPOT(ms)", digits=2),
    _ms("avg_itl_s", "itl_s", "mean", "Avg ITL(ms)", frozenset({CSV}), 2),
    _ms("p50_itl_s", "itl_s", "p50", "P50 ITL(ms)", _CSV_WEB, 2),
    _ms("p99_itl_s", "itl_s", "p99", "P99 ITL(ms)", _CSV_WEB, 2),
    StageColumn("output_tokens_per_s", "output_tokens_per_s", None, "Gen. tok/s", shown_as="{:.1f}"),
    StageColumn("goodput_rps", "goodput_rps", None, "Goodput", shown_as="{:.2f}", optional=True),
    StageColumn("p99_lateness_s", "lateness_s", "p99", "P99 Late(ms)", 1000, "{:.1f}", optional=True),
    StageColumn("total_tokens_per_s", "total_tokens_per_s", None, "Total tok/s", shown_as="{:.1f}", views=_CSV_WEB),
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
    # the server's prompt cache (when it reports cached tokens), and --multi-turn's first and later turns
    StageColumn("cached_share", "cache", "cached_share", "Cached", 100, "{:.1f}%", ALL, True),
    _ms_nested("first_turn_p50_ttft_s", "turns", "first.ttft_s.p50", "1st turn P50 TTFT(ms)"),
    _ms_nested("later_turn_p50_ttft_s", "turns", "later.ttft_s.p50", "Later P50 TTFT(ms)"),
    # --probe-rate: the text probes sent while the stage ran, apart from its figures
    StageColumn("probe_sent", "probe", "sent", "Probes", views=_CSV_WEB, optional=True),
    StageColumn("probe_p50_ttft_s", "probe", "ttft_s.p50", "Probe P50 TTFT(ms)", 1000, "{:.1f}", _CSV_WEB, True),
    StageColumn("probe_p90_ttft_s", "probe", "ttft_s.p90", "Probe P90 TTFT(ms)", 1000, "{:.1f}", _CSV_WEB, True),
)


def columns_for(view: str, stages: Sequence[StageSummary] = ()) -> tuple[StageColumn, ...]:
    """The columns one view shows, in order (optional ones only when one of `stages` has a value;
    stages.csv keeps every column, so its header never changes)."""
    return tuple(
        column
        for column in STAGE_COLUMNS
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
