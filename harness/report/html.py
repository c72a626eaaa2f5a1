"""report.html: one self-contained page per run (data inlined, charts as SVG, nothing fetched).

Sections: settings and provenance, the stage table and recommendations, charts against
concurrency, per-stage distributions and request timelines, exactness of the asked
lengths, errors, the server's own metrics when it serves them, and OmniBench with a
sample browser. Large runs stay under a size budget: timelines are sampled, histograms
binned, media capped (`omniload app` serves what does not fit).
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from markupsafe import Markup

from harness.intervals import wilson_interval as share_interval
from harness.jsonl import read_jsonl
from harness.provenance import provenance
from harness.records import RequestRecord, read_records
from harness.report import charts
from harness.report.columns import CONSOLE, WEB, columns_for, percentiles_of, with_class_rows
from harness.report.recommendations import recommendations
from harness.report.render import page, sections, svg
from harness.report.server_metrics import server_sections
from harness.report.speech import speech_section
from harness.report.verdicts import METRICS, stage_verdicts
from harness.results import (
    OMNIBENCH_DIR,
    OMNIBENCH_SAMPLES_FILE,
    PROBE_CLASS,
    REPORT_FILE,
    REQUESTS_FILE,
    SATURATION_RPS_GAIN,
    SERVER_METRICS_FILE,
    SUMMARY_FILE,
    StageSummary,
    load_of,
    percentile_key,
)
from harness.visible import visible

OMNIBENCH_SAMPLES = os.path.join(OMNIBENCH_DIR, OMNIBENCH_SAMPLES_FILE)
SIZE_BUDGET_BYTES = 5 * 1024 * 1024
MEDIA_BUDGET_BYTES = 3 * 1024 * 1024  # thumbnails and audio together
THUMBNAIL_PX = 120
THUMBNAIL_QUALITY = 70
MAX_AUDIO_BYTES = 256 * 1024  # one clip; larger ones are served by `omniload app`
MAX_TIMELINE_BARS = 600  # per stage; more requests are sampled evenly
MAX_ERROR_EXAMPLES = 3


@dataclass
class Run:
    """Everything a report shows of one run directory."""

    directory: Path
    summary: dict[str, Any]
    records: list[RequestRecord]
    samples: list[dict[str, Any]] = field(default_factory=list)  # OmniBench results, one per sample
    server_lines: list[dict[str, Any]] = field(default_factory=list)  # server_metrics.jsonl

    @property
    def name(self) -> str:
        return self.directory.name

    @property
    def stages(self) -> list[StageSummary]:
        return self.summary.get("stages", [])

    @property
    def pair(self) -> tuple[dict[str, Any], list[RequestRecord]]:
        """(summary, records): what a comparison's verdicts read."""
        return self.summary, self.records


def load_run(directory: str | Path, within: Path | None = None) -> Run:
    """Read a report directory (summary.json must exist; the rest is optional).

    `within`: a file whose links lead outside this (resolved) directory is treated as absent.
    """
    path = Path(directory)

    def present(name: str) -> bool:
        file = (path / name).resolve()
        return file.is_file() and (within is None or within in file.parents)

    summary = json.loads((path / SUMMARY_FILE).read_text(encoding="utf-8"))
    if not isinstance(summary, dict):
        raise ValueError(f"{SUMMARY_FILE} is not a JSON object")
    # a line cut short by a crash is left out: the report is written whatever the files hold
    records = read_records(str(path / REQUESTS_FILE), skip_unreadable=True) if present(REQUESTS_FILE) else []
    samples = read_jsonl(str(path / OMNIBENCH_SAMPLES), skip_unreadable=True) if present(OMNIBENCH_SAMPLES) else []
    latest = {
        sample["index"]: sample for sample in samples if "index" in sample
    }  # a resumed pass appends: the last wins
    server = read_jsonl(str(path / SERVER_METRICS_FILE), skip_unreadable=True) if present(SERVER_METRICS_FILE) else []
    return Run(path, summary, records, [latest[index] for index in sorted(latest)], server)


# --- numbers ----------------------------------------------------------------------------


def wilson_interval(correct: int, total: int) -> tuple[float, float]:
    """95 % Wilson score interval of an accuracy (0..1); (0, 0) without samples (nothing to draw)."""
    return (0.0, 0.0) if total == 0 else share_interval(correct, total)


def knee(stages: Sequence[StageSummary]) -> StageSummary | None:
    """The last stage before throughput stops growing by SATURATION_RPS_GAIN (else the last one)."""
    measured = [stage for stage in stages if stage["succeeded"]]
    for lower, higher in zip(measured, measured[1:], strict=False):
        if lower["rps"] > 0 and (higher["rps"] - lower["rps"]) / lower["rps"] < SATURATION_RPS_GAIN:
            return lower
    return measured[-1] if measured else None


def by_rate(stages: Sequence[StageSummary]) -> bool:
    """A rate sweep (every stage has a --rate): charts go against the rate, not the concurrency."""
    return bool(stages) and all(stage.get("rate_rps") is not None for stage in stages)


def stat(stage: Mapping[str, Any], field: str, key: str) -> float | None:
    """One statistic (`key`: p50, mean, ...) of a stage's distribution `field` (ttft_s, ...), None when absent or
    when it is a percentile the stage has too few values to tell (only its maximum: not drawn as if it were)."""
    distribution = stage.get(field)
    if not isinstance(distribution, dict) or key in distribution.get("few", ()):
        return None
    return distribution.get(key)


def _load(stage: StageSummary, index: int, rate_axis: bool) -> float:
    """The stage's x: its rate on a rate sweep's charts, else its concurrency (a plain run: its index)."""
    if rate_axis:
        return float(stage["rate_rps"])
    return float(stage["parallel"] if stage["parallel"] is not None else index + 1)


# --- sections ---------------------------------------------------------------------------


def settings_section(run: Run) -> Markup:
    config = run.summary.get("config", {})
    recorded = run.summary.get("provenance")
    made_by: dict[str, Any] = recorded if isinstance(recorded, dict) else provenance()
    head = {
        **made_by,
        "model": run.summary.get("model", ""),
        "started at": run.summary.get("started_at", ""),
        "server profile": run.summary.get("server_profile", ""),
        "output length enforced": run.summary.get("output_length_enforced", ""),
        "completed": run.summary.get("completed", ""),
    }
    flags = [(str(key), json.dumps(value)) for key, value in sorted(config.items())]
    return sections().settings([(str(key), str(value)) for key, value in head.items()], flags)


def stage_table(stages: Sequence[StageSummary]) -> Markup:
    """The console's columns, then what the requests carried and the probes' TTFT (when any stage has them);
    a mix's classes in rows of their own below each stage's overall row."""
    rows = with_class_rows(stages)
    columns = columns_for(CONSOLE, rows) + tuple(
        column for column in columns_for(WEB, rows) if column.field in ("media", "probe")
    )
    return sections().stage_table(
        [column.title for column in columns], [[column.shown(stage) for column in columns] for stage in rows]
    )


def stages_section(run: Run) -> Markup:
    return sections().stages(stage_table(run.stages), recommendations(run.stages, run.summary.get("lost_workers", {})))


def repeated_section(run: Run) -> Markup:
    """--num-runs: each planned stage's runs pooled (the spread between them is in summary.json's between_runs)."""
    repeated = run.summary.get("repeated")
    if not repeated:
        return Markup()
    return sections().run_table("Repeated stages: each stage's runs pooled (--num-runs)", stage_table(repeated))


def sla_section(run: Run) -> Markup:
    """--sla-auto-tune: each group's answer and the values the search measured, in order."""
    results = run.summary.get("sla")
    if not results:
        return Markup()
    rows = [
        [
            result["criteria"],
            result["variable"],
            "-" if result["max_satisfied"] is None else format(result["max_satisfied"], "g"),
            result["note"],
            " ".join(format(value, "g") for value in result["tried"]),
        ]
        for result in results
    ]
    return sections().sla(rows)


def concurrency_charts(run: Run) -> Markup:
    stages = run.stages
    if not stages:
        return Markup()
    rate_axis = by_rate(stages)
    axis = "request rate (req/s)" if rate_axis else "concurrency"
    xs = [_load(stage, index, rate_axis) for index, stage in enumerate(stages)]
    shown = [percentile_key(p) for p in percentiles_of(stages)]  # the run's --percentiles

    def series(metric: str, scale: float, name: str) -> list[tuple[str, list[charts.Point]]]:
        return [
            (
                f"{name} {p}",
                [
                    (x, value * scale)
                    for x, stage in zip(xs, stages, strict=True)
                    if (value := stat(stage, metric, p)) is not None
                ],
            )
            for p in shown
        ]

    def bars(metric: str, scale: float) -> list[list[tuple[float, float] | None]]:
        """Each plotted percentile's 95 % interval, where both its sides are known (error bars)."""
        result = []
        for p in shown:
            row: list[tuple[float, float] | None] = []
            for stage in stages:
                if stat(stage, metric, p) is None:
                    continue
                low, high = ((stage.get(metric) or {}).get("ci") or {}).get(p) or (None, None)  # type: ignore[attr-defined]
                row.append((low * scale, high * scale) if low is not None and high is not None else None)
            result.append(row)
        return result

    figures = [
        charts.line_chart(
            "Requests per second", axis, "req/s", [("RPS", [(x, s["rps"]) for x, s in zip(xs, stages, strict=False)])]
        ),
        charts.line_chart(
            "Throughput",
            axis,
            "tokens/s",
            [
                ("output tok/s", [(x, s["output_tokens_per_s"]) for x, s in zip(xs, stages, strict=False)]),
                ("total tok/s", [(x, s["total_tokens_per_s"]) for x, s in zip(xs, stages, strict=False)]),
            ],
        ),
        charts.line_chart("TTFT", axis, "ms", series("ttft_s", 1000, "TTFT"), errors=bars("ttft_s", 1000)),
        charts.line_chart("TPOT", axis, "ms", series("tpot_s", 1000, "TPOT")),
        charts.line_chart("ITL", axis, "ms", series("itl_s", 1000, "ITL")),
        charts.line_chart("End-to-end latency", axis, "s", series("latency_s", 1, "E2E")),
    ]
    if any("probe" in stage for stage in stages):  # --probe-rate: what the load cost a text user
        probe_series = [
            (
                f"probe TTFT {p}",
                [
                    (x, value * 1000)
                    for x, stage in zip(xs, stages, strict=True)
                    if (value := stat(stage.get("probe", {}), "ttft_s", p)) is not None
                ],
            )
            for p in ("p50", "p90")
        ]
        figures.append(charts.line_chart("Probe TTFT (text requests beside the load)", axis, "ms", probe_series))
    if rate_axis:  # did the load generator keep the schedule?
        figures.append(
            charts.line_chart(
                "Lateness against the schedule",
                axis,
                "ms",
                [
                    (
                        f"lateness {p}",
                        [
                            (x, value * 1000)
                            for x, stage in zip(xs, stages, strict=True)
                            if (value := stat(stage, "lateness_s", p)) is not None
                        ],
                    )
                    for p in ("p50", "p99")
                ],
            )
        )
    curve = [
        (stage["ttft_s"]["p99"] * 1000, stage["output_tokens_per_s"])
        for stage in stages
        if stage["ttft_s"]["p99"] is not None
    ]
    best = knee(stages)
    mark = None
    if best is not None and best["ttft_s"]["p99"] is not None:
        mark = (best["ttft_s"]["p99"] * 1000, best["output_tokens_per_s"])
    figures.append(
        charts.line_chart(
            "Throughput against p99 TTFT",
            "p99 TTFT (ms)",
            "output tok/s",
            [("stages", curve)],
            mark,
            f"knee: {load_of(best)}" if best else "",
        )
    )
    return sections().figures(
        "charts", f"Against {'request rate' if rate_axis else 'concurrency'}", [svg(figure) for figure in figures]
    )


def _evenly(items: list[Any], most: int) -> list[Any]:
    if len(items) <= most:
        return items
    step = len(items) / most
    return [items[int(i * step)] for i in range(most)]


def in_flight_curve(records: Sequence[RequestRecord], origin_s: float, points: int = 300) -> list[charts.Point]:
    """Requests in flight over time (s from origin), sampled at `points` instants."""
    if not records:
        return []
    starts = np.sort([r.t_send - origin_s for r in records])
    ends = np.sort([r.t_send - origin_s + (r.duration_s or 0.0) for r in records])
    instants = np.linspace(0.0, float(ends[-1]), points + 1)
    # started by t minus ended by t: a binary search per instant, not a scan of every request
    counts = np.searchsorted(starts, instants, side="right") - np.searchsorted(ends, instants, side="right")
    return [(float(t), float(count)) for t, count in zip(instants, counts, strict=False)]


def stage_details(run: Run) -> Markup:
    by_stage: dict[int, list[RequestRecord]] = defaultdict(list)
    for record in run.records:
        if not record.warmup and record.request_class != PROBE_CLASS:  # probes have a chart of their own
            by_stage[record.stage].append(record)
    if not by_stage:
        return Markup()
    shown_stages = []
    for index in sorted(by_stage):
        records = sorted(by_stage[index], key=lambda record: record.t_send)
        ok = [record for record in records if record.status == "ok"]
        stage = run.stages[index] if index < len(run.stages) else None
        label = f"stage {index + 1}" + (f": {load_of(stage)}, {stage['sent']} requests" if stage else "")
        origin_s = records[0].t_send
        bars = [
            (
                r.t_send - origin_s,
                (r.t_send + r.ttft_s - origin_s) if r.ttft_s is not None else None,
                r.t_send + (r.duration_s or 0.0) - origin_s,
                r.worker,
                r.status == "ok",
            )
            for r in _evenly(records, MAX_TIMELINE_BARS)
        ]
        stage_end = max(r.t_send + (r.duration_s or 0.0) for r in records) - origin_s
        shown = f" ({MAX_TIMELINE_BARS} of {len(records)} shown)" if len(records) > MAX_TIMELINE_BARS else ""
        figures = [
            charts.histogram("TTFT", "ms", [r.ttft_s * 1000 for r in ok if r.ttft_s is not None]),
            charts.histogram("TPOT", "ms", [r.tpot_s * 1000 for r in ok if r.tpot_s is not None]),
        ]
        lateness_ms = [r.lateness_s * 1000 for r in records if r.lateness_s is not None and r.user >= 0]
        if lateness_ms:  # a rate stage: how late each send was against its schedule
            figures.append(charts.histogram("Lateness (send - due)", "ms", lateness_ms))
        figures.append(charts.timeline(f"Requests{shown}", bars, in_flight_curve(records, origin_s), [0.0, stage_end]))
        shown_stages.append((label, [svg(figure) for figure in figures]))
    return sections().stage_details(shown_stages)


def slice_charts(run: Run) -> Markup:
    """--slice: each stage's windows one after the other (time from the first stage's start, each stage after the
    previous one's wall time): successes and errors per second, TTFT p50 and p99."""
    if not any(stage.get("slices") for stage in run.stages):
        return Markup()
    rates: list[charts.Point] = []
    errors: list[charts.Point] = []
    p50: list[charts.Point] = []
    p99: list[charts.Point] = []
    origin_s = 0.0
    for stage in run.stages:
        slices = stage.get("slices") or []
        width_s = slices[1]["start_s"] - slices[0]["start_s"] if len(slices) > 1 else stage["wall_time_s"] or 1.0
        for window in slices:
            x = origin_s + window["start_s"]
            rates.append((x, window["rps"]))
            errors.append((x, window["errors"] / width_s))
            if window["ttft_p50_s"] is not None:
                p50.append((x, window["ttft_p50_s"] * 1000))
            if window["ttft_p99_s"] is not None:
                p99.append((x, window["ttft_p99_s"] * 1000))
        origin_s += max(stage["wall_time_s"], len(slices) * width_s)
    figures = [
        charts.line_chart(
            "Successes and errors per second, per window", "s", "req/s", [("ok", rates), ("errors", errors)]
        ),
        charts.line_chart("TTFT per window", "s", "ms", [("p50", p50), ("p99", p99)]),
    ]
    return sections().figures("slices", "Over time (--slice windows)", [svg(figure) for figure in figures])


MAX_SCATTER_POINTS = 3000


def media_charts(run: Run) -> Markup:
    """TTFT against each request's multimodal tokens (the server's count: its prompt less the text), a colour
    per class (or per stage without a mix): what images, audio and video cost the first token."""
    by_group: dict[str, list[charts.Point]] = defaultdict(list)
    mixed = any("classes" in stage for stage in run.stages)
    for record in run.records:
        if record.warmup or record.status != "ok" or record.request_class == PROBE_CLASS or record.ttft_s is None:
            continue
        tokens = record.multimodal_tokens if record.multimodal_tokens is not None else record.expected_media_tokens
        if tokens is None:
            continue
        group = record.request_class if mixed else f"stage {record.stage + 1}"
        by_group[group].append((float(tokens), record.ttft_s * 1000))
    if not any(x for points in by_group.values() for x, _ in points):
        return Markup()  # text only: nothing to set against
    series = [(name, _evenly(points, MAX_SCATTER_POINTS // len(by_group))) for name, points in sorted(by_group.items())]
    figure = charts.scatter_chart(
        "TTFT against the request's multimodal tokens", "multimodal tokens", "TTFT (ms)", series
    )
    return sections().figures("media", "Media", [svg(figure)])


def _spread(values: Sequence[int]) -> str:
    return "-" if not values else (str(values[0]) if min(values) == max(values) else f"{min(values)}–{max(values)}")


def exactness_section(run: Run) -> Markup:
    config = run.summary.get("config", {})
    ok = [record for record in run.records if record.status == "ok" and not record.warmup]
    asked_text = sorted({record.expected_text_tokens for record in ok})
    server_prompt = sorted({record.prompt_tokens for record in ok if record.prompt_tokens is not None})
    multimodal = sorted({record.multimodal_tokens for record in ok if record.multimodal_tokens is not None})
    expected_media = sorted({record.expected_media_tokens for record in ok if record.expected_media_tokens is not None})
    media_off = [
        record
        for record in ok
        if None not in (record.multimodal_tokens, record.expected_media_tokens)
        and record.multimodal_tokens != record.expected_media_tokens
    ]
    received = sorted({record.completion_tokens for record in ok if record.completion_tokens is not None})
    min_tokens, max_tokens = config.get("min_tokens"), config.get("max_tokens")
    enforced = run.summary.get("output_length_enforced", True)
    off = [
        record
        for record in ok
        if record.completion_tokens is not None
        and enforced
        and min_tokens is not None
        and not min_tokens <= record.completion_tokens <= (max_tokens or record.completion_tokens)
    ]
    check = run.summary.get("tokenize_check", {})
    check_text = (
        ("skipped: " + check["skipped"])
        if "skipped" in check
        else (f"prompt built as {check.get('expected')} tokens; the server's /tokenize counts {check.get('server')}")
    )
    check_flag = "flag" if check.get("match") is False else ""
    rows = [
        ("prompt text tokens asked", _spread(asked_text), ""),
        ("prompt tokens the server counted (usage)", _spread(server_prompt), ""),
        ("multimodal tokens (server − text)", _spread(multimodal), ""),
        (
            "multimodal tokens expected (Qwen3-Omni's image and audio rules)",
            _spread(expected_media),
            "flag" if media_off else "",
        ),
        ("/tokenize check", check_text, check_flag),
        ("output tokens asked", f"{min_tokens}–{max_tokens}" if min_tokens != max_tokens else str(max_tokens), ""),
        ("output tokens received", _spread(received) + ("" if enforced else " (not enforced by this server)"), ""),
        ("requests outside the asked output length", str(len(off)), "flag" if off else ""),
    ]
    return sections().exactness(rows)


def errors_section(run: Run) -> Markup:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for record in run.records:
        if record.error is not None:
            groups[(record.error["reason"], record.error["message"])].append(record.request_id)
    rows = [
        [reason, str(len(ids)), message, ", ".join(ids[:MAX_ERROR_EXAMPLES])]
        for (reason, message), ids in sorted(groups.items(), key=lambda item: -len(item[1]))
    ]
    return sections().errors(rows)


# --- OmniBench --------------------------------------------------------------------------


def _thumbnail(image_bytes: bytes) -> str:
    from PIL import Image

    with Image.open(io.BytesIO(image_bytes)) as image:
        small = image.convert("RGB")
        small.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        buffer = io.BytesIO()
        small.save(buffer, format="JPEG", quality=THUMBNAIL_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def sample_media(run: Run, embed: bool) -> dict[int, dict[str, str]]:
    """Per sample index: a thumbnail and a playable audio data URL, within MEDIA_BUDGET_BYTES."""
    if not embed or not run.samples:
        return {}
    from harness.omnibench.dataset import DatasetError, load_samples
    from harness.omnibench.prompt import audio_format

    config = run.summary.get("omnibench", {}).get("config") or {}
    try:
        dataset = {sample.index: sample for sample in load_samples(config.get("dataset"))}
    except DatasetError:
        return {}
    media: dict[int, dict[str, str]] = {}
    spent = 0
    for result in run.samples:
        sample = dataset.get(result["index"])
        if sample is None:
            continue
        entry: dict[str, str] = {}
        try:
            entry["image"] = _thumbnail(sample.image_bytes)
        except OSError:
            pass
        if len(sample.audio_bytes) <= MAX_AUDIO_BYTES:
            entry["audio"] = (
                f"data:audio/{audio_format(sample)};base64," + base64.b64encode(sample.audio_bytes).decode()
            )
        size = sum(len(value) for value in entry.values())
        if spent + size > MEDIA_BUDGET_BYTES:
            break
        spent += size
        media[result["index"]] = entry
    return media


MediaLink = Callable[[int, str], str]  # (sample index, "image" | "audio") -> URL, for `omniload app`


def omnibench_section(run: Run, embed_media: bool, media_link: MediaLink | None = None) -> Markup:
    summary = run.summary.get("omnibench")
    if not summary or not run.samples:
        return Markup()
    if "error" in summary:
        return sections().omnibench_error(summary["error"])
    groups: dict[str, list[bool]] = defaultdict(list)
    for result in run.samples:
        if result["status"] == "ok":
            groups["overall"].append(result["correct"])
            groups[f"task: {result['task_type']}"].append(result["correct"])
            groups[f"audio: {result['audio_type']}"].append(result["correct"])
    accuracy = []
    for name, marks in groups.items():
        low, high = wilson_interval(sum(marks), len(marks))
        accuracy.append(
            {
                "name": name,
                "num": len(marks),
                "mean": f"{sum(marks) / len(marks):.4f}",
                "interval": f"{low:.3f}–{high:.3f}",
            }
        )
    media = sample_media(run, embed_media and media_link is None)
    if media_link is not None:  # served by the app: every sample, full size
        media = {
            result["index"]: {
                "image": media_link(result["index"], "image"),
                "audio": media_link(result["index"], "audio"),
            }
            for result in run.samples
        }
    samples = [_sample_card(result, media.get(result["index"], {})) for result in run.samples]
    task_types = sorted({str(result["task_type"]) for result in run.samples})
    return sections().omnibench(accuracy, task_types, samples)


def _sample_card(result: dict[str, Any], media: dict[str, str]) -> dict[str, Any]:
    """One OmniBench answer as the sample browser shows it (text only: the template escapes it)."""
    status = "noanswer" if result.get("extracted") is None else ("correct" if result.get("correct") else "wrong")
    usage: dict[str, Any] = result["usage"] if isinstance(result.get("usage"), dict) else {}
    latency = f"{result['latency_s']:.3f} s" if isinstance(result.get("latency_s"), (int, float)) else "-"
    return {
        "index": str(result["index"]),
        "status": status,
        "task_type": str(result["task_type"]),
        "audio_type": str(result["audio_type"]),
        "question": str(result["question"]),
        "search_text": (str(result["question"]) + " " + str(result.get("output") or "")).lower(),
        "image": media.get("image"),
        "audio": media.get("audio"),
        "latency": latency,
        "tokens": f"{usage.get('prompt_tokens', '-')} in / {usage.get('completion_tokens', '-')} out",
        "options": [f"{chr(65 + i)}) {option}" for i, option in enumerate(result["options"])],
        "target": str(result["target"]),
        "extracted": str(result.get("extracted")),
        "output": visible(str(result.get("output") or result.get("error") or ""), keep_lines=True),
    }


# --- the page ---------------------------------------------------------------------------


def render_report(
    run: Run, embed_media: bool = True, media_link: MediaLink | None = None, media_sources: str = "data:"
) -> str:
    """The whole report of one run as one HTML document (`media_sources`: where its media may load from)."""
    return page(
        f"omniload · {run.summary.get('model', '')} · {run.summary.get('started_at', '')}",
        [
            settings_section(run),
            stages_section(run),
            repeated_section(run),
            sla_section(run),
            concurrency_charts(run),
            slice_charts(run),
            speech_section(run.records),
            media_charts(run),
            stage_details(run),
            exactness_section(run),
            errors_section(run),
            server_sections(run.server_lines, run.stages, run.records),
            omnibench_section(run, embed_media, media_link),
        ],
        media_sources,
    )


def write_report(directory: str | Path, embed_media: bool = True) -> Path:
    """Write report.html into a run's directory; returns its path."""
    run = load_run(directory)
    path = run.directory / REPORT_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(render_report(run, embed_media), encoding="utf-8")
    os.replace(temporary, path)
    return path


# Settings that differ between any two runs by nature, left out of "how the runs differed".
RUN_SPECIFIC_SETTINGS = frozenset({"report_dir", "seed"})


def run_facts(run: Run) -> dict[str, Any]:
    """What a run was asked and what it ran on, flat: its settings, server profile, load generators, provenance."""
    summary = run.summary
    facts = {key: value for key, value in (summary.get("config") or {}).items() if key not in RUN_SPECIFIC_SETTINGS}
    facts["server profile"] = summary.get("server_profile")
    facts["load generators"] = len(summary.get("workers") or {}) or None
    for key, value in (summary.get("provenance") or {}).items():
        facts[key] = value
    return facts


def config_differences(runs: Sequence[Run]) -> Markup:
    """How the runs differed: every setting whose value is not the same in all of them."""
    facts = [run_facts(run) for run in runs]
    keys = sorted({key for fact in facts for key in fact})
    differing = [key for key in keys if len({json.dumps(fact.get(key), sort_keys=True) for fact in facts}) > 1]
    rows = [(key, [json.dumps(fact.get(key)) for fact in facts]) for key in differing]
    return sections().differences([run.name for run in runs], rows)


def stage_deltas(base: Run, other: Run, rate_axis: bool) -> dict[str, Any]:
    """Every column of the stage table, stage by stage: the other run's value and its change against the base."""
    columns = [
        column
        for column in columns_for(CONSOLE, [*base.stages, *other.stages])
        if column.name not in ("parallel", "rate_rps")
    ]
    rows = []
    for index, (first, second) in enumerate(zip(base.stages, other.stages, strict=False)):
        cells = []
        for column in columns:
            a, b = column.value(first), column.value(second)
            numbers = isinstance(a, (int, float)) and isinstance(b, (int, float)) and a
            cells.append(column.shown(second) + (f" ({100 * (b - a) / a:+.1f} %)" if numbers else ""))
        rows.append((f"{_load(first, index, rate_axis):g}", cells))
    return {
        "base": base.name,
        "other": other.name,
        "load_title": "Rate" if rate_axis else "Conc.",
        "titles": [column.title for column in columns],
        "rows": rows,
    }


def verdict_block(base: Run, other: Run, rate_axis: bool) -> dict[str, Any]:
    """B against A per stage and latency metric: the ratio, its 95 % bootstrap interval and the verdict."""
    verdicts = stage_verdicts(base.pair, other.pair)
    planned = base.summary.get("repeated") or base.stages  # --num-runs: one row per planned stage
    return {
        "base": base.name,
        "other": other.name,
        "load_title": "Rate" if rate_axis else "Conc.",
        "titles": [label for _, _, label in METRICS],
        "rows": [
            (f"{_load(stage, index, rate_axis):g}", [(v.verdict, v.shown()) for v in row])
            for index, (stage, row) in enumerate(zip(planned, verdicts, strict=False))
        ],
    }


def render_comparison(runs: Sequence[Run]) -> str:
    """Two or more runs: their stage tables, per-stage deltas against the first, the charts overlaid."""
    base = runs[0]
    rate_axis = all(by_rate(run.stages) for run in runs)
    parts = [sections().run_table(run.name, stage_table(run.stages)) for run in runs]
    parts.append(config_differences(runs))
    parts.append(sections().deltas([stage_deltas(base, run, rate_axis) for run in runs[1:]]))
    parts.append(sections().verdicts([verdict_block(base, run, rate_axis) for run in runs[1:]]))

    def overlay(title: str, unit: str, pick: Any) -> str:
        return charts.line_chart(
            title,
            "request rate (req/s)" if rate_axis else "concurrency",
            unit,
            [
                (
                    run.name,
                    [
                        (_load(stage, index, rate_axis), pick(stage))
                        for index, stage in enumerate(run.stages)
                        if pick(stage) is not None
                    ],
                )
                for run in runs
            ],
        )

    overlays = [
        overlay("Requests per second", "req/s", lambda s: s["rps"]),
        overlay("Output tokens per second", "tok/s", lambda s: s["output_tokens_per_s"]),
        overlay("p50 TTFT", "ms", lambda s: v * 1000 if (v := stat(s, "ttft_s", "p50")) is not None else None),
        overlay("p99 TTFT", "ms", lambda s: v * 1000 if (v := stat(s, "ttft_s", "p99")) is not None else None),
        overlay("p99 TPOT", "ms", lambda s: v * 1000 if (v := stat(s, "tpot_s", "p99")) is not None else None),
    ]
    parts.append(sections().figures("charts", "Overlaid", [svg(chart) for chart in overlays]))
    return page("omniload · comparison of " + ", ".join(run.name for run in runs), parts)
