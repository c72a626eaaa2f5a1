"""report.html: one self-contained page per run (data inlined, charts as SVG, nothing fetched).

Sections: settings and provenance, the stage table and recommendations, charts against
concurrency, per-stage distributions and request timelines, exactness of the asked
lengths, errors, the server's own metrics when it serves them, and OmniBench with a
sample browser. Large runs stay under a size budget: timelines are sampled, histograms
binned, media capped (`omniload app` serves what does not fit).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any, cast

import numpy as np

from harness.jsonl import read_jsonl
from harness.provenance import provenance
from harness.records import RequestRecord, read_records
from harness.report import charts
from harness.report.columns import CONSOLE, columns_for
from harness.report.recommendations import SATURATION_RPS_GAIN, recommendations
from harness.report.server_metrics import server_sections
from harness.results import (
    OMNIBENCH_DIR,
    OMNIBENCH_SAMPLES_FILE,
    REPORT_FILE,
    REQUESTS_FILE,
    SERVER_METRICS_FILE,
    SUMMARY_FILE,
    StageSummary,
    load_of,
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
Z_95 = 1.959964


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
    """95 % Wilson score interval of a proportion (0..1)."""
    if total == 0:
        return 0.0, 0.0
    share = correct / total
    denominator = 1 + Z_95**2 / total
    centre = (share + Z_95**2 / (2 * total)) / denominator
    half = Z_95 * math.sqrt(share * (1 - share) / total + Z_95**2 / (4 * total**2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


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


def stat(stage: StageSummary, field: str, key: str) -> float | None:
    """One statistic (`key`: p50, mean, ...) of a stage's distribution `field` (ttft_s, ...), None when absent."""
    distribution = cast(dict[str, Any], stage).get(field)
    return distribution.get(key) if isinstance(distribution, dict) else None


def _load(stage: StageSummary, index: int, rate_axis: bool) -> float:
    """The stage's x: its rate on a rate sweep's charts, else its concurrency (a plain run: its index)."""
    if rate_axis:
        return float(stage["rate_rps"])
    return float(stage["parallel"] if stage["parallel"] is not None else index + 1)


# --- sections ---------------------------------------------------------------------------


def settings_section(run: Run) -> str:
    config = run.summary.get("config", {})
    recorded = run.summary.get("provenance")
    made_by: dict[str, Any] = recorded if isinstance(recorded, dict) else provenance()
    rows = {
        **made_by,
        "model": run.summary.get("model", ""),
        "started at": run.summary.get("started_at", ""),
        "server profile": run.summary.get("server_profile", ""),
        "output length enforced": run.summary.get("output_length_enforced", ""),
        "completed": run.summary.get("completed", ""),
    }
    flags = "".join(
        f"<tr><th>{escape(str(key))}</th><td>{escape(json.dumps(value))}</td></tr>"
        for key, value in sorted(config.items())
    )
    head = "".join(f"<tr><th>{escape(key)}</th><td>{escape(str(value))}</td></tr>" for key, value in rows.items())
    return (
        f'<section id="settings"><h2>Run</h2><table class="kv">{head}</table>'
        f'<details><summary>All settings</summary><table class="kv">{flags}</table></details></section>'
    )


def stage_table(stages: Sequence[StageSummary]) -> str:
    columns = columns_for(CONSOLE, stages)
    head = "".join(f"<th>{escape(column.title)}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(column.shown(stage))}</td>" for column in columns) + "</tr>" for stage in stages
    )
    return f'<table class="stages"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def stages_section(run: Run) -> str:
    lines = recommendations(run.stages, run.summary.get("lost_workers", {}))
    notes = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f'<section id="stages"><h2>Stages</h2>{stage_table(run.stages)}<ul class="notes">{notes}</ul></section>'


def sla_section(run: Run) -> str:
    """--sla-auto-tune: each group's answer and the values the search measured, in order."""
    results = run.summary.get("sla")
    if not results:
        return ""
    rows = "".join(
        f"<tr><td>{escape(result['criteria'])}</td><td>{escape(result['variable'])}</td>"
        f"<td>{'-' if result['max_satisfied'] is None else format(result['max_satisfied'], 'g')}</td>"
        f"<td>{escape(result['note'])}</td><td>{escape(' '.join(format(v, 'g') for v in result['tried']))}</td></tr>"
        for result in results
    )
    return (
        '<section id="sla"><h2>SLA search</h2><p>The most load that met each group of conditions (every request '
        "successful; doubled, then bisected; the stages above are the values measured).</p>"
        "<table><thead><tr><th>Criteria</th><th>Variable</th><th>Max satisfied</th><th>Note</th><th>Tried</th>"
        f"</tr></thead><tbody>{rows}</tbody></table></section>"
    )


def concurrency_charts(run: Run) -> str:
    stages = run.stages
    if not stages:
        return ""
    rate_axis = by_rate(stages)
    axis = "request rate (req/s)" if rate_axis else "concurrency"
    xs = [_load(stage, index, rate_axis) for index, stage in enumerate(stages)]

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
            for p in ("p50", "p90", "p99")
        ]

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
        charts.line_chart("TTFT", axis, "ms", series("ttft_s", 1000, "TTFT")),
        charts.line_chart("TPOT", axis, "ms", series("tpot_s", 1000, "TPOT")),
        charts.line_chart("ITL", axis, "ms", series("itl_s", 1000, "ITL")),
        charts.line_chart("End-to-end latency", axis, "s", series("latency_s", 1, "E2E")),
    ]
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
    return (
        f'<section id="charts"><h2>Against {"request rate" if rate_axis else "concurrency"}</h2>'
        '<div class="grid">' + "".join(figures) + "</div></section>"
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


def stage_details(run: Run) -> str:
    by_stage: dict[int, list[RequestRecord]] = defaultdict(list)
    for record in run.records:
        if not record.warmup:
            by_stage[record.stage].append(record)
    if not by_stage:
        return ""
    parts = [
        '<section id="stage-details"><h2>Each stage</h2><p>Timelines: each request a bar from send to its '
        "last byte, its first token marked, colour per worker (failures grey), the line the requests in flight; "
        "time from the stage's first request.</p>"
    ]
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
        parts.append(f'<h3>{escape(label)}</h3><div class="grid">')
        parts.append(charts.histogram("TTFT", "ms", [r.ttft_s * 1000 for r in ok if r.ttft_s is not None]))
        parts.append(charts.histogram("TPOT", "ms", [r.tpot_s * 1000 for r in ok if r.tpot_s is not None]))
        lateness_ms = [r.lateness_s * 1000 for r in records if r.lateness_s is not None and r.user >= 0]
        if lateness_ms:  # a rate stage: how late each send was against its schedule
            parts.append(charts.histogram("Lateness (send - due)", "ms", lateness_ms))
        parts.append(charts.timeline(f"Requests{shown}", bars, in_flight_curve(records, origin_s), [0.0, stage_end]))
        parts.append("</div>")
    return "".join(parts) + "</section>"


def _spread(values: Sequence[int]) -> str:
    return "-" if not values else (str(values[0]) if min(values) == max(values) else f"{min(values)}–{max(values)}")


def exactness_section(run: Run) -> str:
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
    body = "".join(
        f'<tr class="{flag}"><th>{escape(name)}</th><td>{escape(value)}</td></tr>' for name, value, flag in rows
    )
    return f'<section id="exactness"><h2>Exactness</h2><table class="kv">{body}</table></section>'


def errors_section(run: Run) -> str:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for record in run.records:
        if record.error is not None:
            groups[(record.error["reason"], record.error["message"])].append(record.request_id)
    if not groups:
        return '<section id="errors"><h2>Errors</h2><p>No request failed.</p></section>'
    rows = "".join(
        f"<tr><td>{escape(reason)}</td><td>{len(ids)}</td><td>{escape(message)}</td>"
        f"<td>{escape(', '.join(ids[:MAX_ERROR_EXAMPLES]))}</td></tr>"
        for (reason, message), ids in sorted(groups.items(), key=lambda item: -len(item[1]))
    )
    return (
        '<section id="errors"><h2>Errors</h2><table class="errors"><thead><tr><th>reason</th><th>count</th>'
        f"<th>message</th><th>example request ids</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


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


def omnibench_section(run: Run, embed_media: bool, media_link: MediaLink | None = None) -> str:
    summary = run.summary.get("omnibench")
    if not summary or not run.samples:
        return ""
    if "error" in summary:
        return f'<section id="omnibench"><h2>OmniBench</h2><p class="flag">{escape(summary["error"])}</p></section>'
    groups: dict[str, list[bool]] = defaultdict(list)
    for result in run.samples:
        if result["status"] == "ok":
            groups["overall"].append(result["correct"])
            groups[f"task: {result['task_type']}"].append(result["correct"])
            groups[f"audio: {result['audio_type']}"].append(result["correct"])
    rows = []
    for name, marks in groups.items():
        low, high = wilson_interval(sum(marks), len(marks))
        rows.append(
            f"<tr><th>{escape(name)}</th><td>{len(marks)}</td><td>{sum(marks) / len(marks):.4f}</td>"
            f"<td>{low:.3f}–{high:.3f}</td></tr>"
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
    browser_rows = []
    task_types = sorted({result["task_type"] for result in run.samples})
    for result in run.samples:
        status = "noanswer" if result.get("extracted") is None else ("correct" if result.get("correct") else "wrong")
        item = media.get(result["index"], {})
        image = (
            f'<img alt="sample {escape(str(result["index"]))}" src="{escape(item["image"])}">'
            if "image" in item
            else '<span class="nomedia">no image</span>'
        )
        audio = (
            f'<audio controls preload="none" src="{escape(item["audio"])}"></audio>'
            if "audio" in item
            else '<span class="nomedia">audio not embedded</span>'
        )
        options = "".join(
            f"<li>{escape(chr(65 + i))}) {escape(str(option))}</li>" for i, option in enumerate(result["options"])
        )
        usage: dict[str, Any] = result["usage"] if isinstance(result.get("usage"), dict) else {}
        latency = f"{result['latency_s']:.3f} s" if isinstance(result.get("latency_s"), (int, float)) else "-"
        tokens = f"{usage.get('prompt_tokens', '-')} in / {usage.get('completion_tokens', '-')} out"
        browser_rows.append(
            f'<div class="sample" data-status="{status}" data-task="{escape(str(result["task_type"]))}" '
            f'data-text="{escape((str(result["question"]) + " " + str(result.get("output") or "")).lower())}">'
            f'<div class="media">{image}{audio}</div><div class="qa"><p class="meta">#{escape(str(result["index"]))} · '
            f"{escape(str(result['task_type']))} · {escape(str(result['audio_type']))} · "
            f'<b class="{status}">{status}</b> · '
            f"latency {latency} · tokens {escape(tokens)}</p>"
            f'<p class="question">{escape(str(result["question"]))}</p><ol class="options">{options}</ol>'
            f"<p>target <b>{escape(str(result['target']))}</b>, "
            f"extracted <b>{escape(str(result.get('extracted')))}</b></p>"
            '<pre class="output">'
            f"{escape(visible(str(result.get('output') or result.get('error') or ''), keep_lines=True))}"
            "</pre></div></div>"
        )
    task_options = "".join(f'<option value="{escape(task)}">{escape(task)}</option>' for task in task_types)
    return (
        f'<section id="omnibench"><h2>OmniBench</h2><table class="kv"><thead><tr><th></th><th>num</th>'
        f"<th>mean_acc</th><th>95 % CI (Wilson)</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        '<div class="controls"><select id="status-filter"><option value="">all answers</option>'
        '<option value="correct">correct</option><option value="wrong">wrong</option>'
        '<option value="noanswer">no answer extracted</option></select>'
        f'<select id="task-filter"><option value="">all task types</option>{task_options}</select>'
        '<input id="search" type="search" placeholder="search questions and answers">'
        '<button id="prev">◀</button><span id="page"></span><button id="next">▶</button>'
        '<span class="hint">keys: ← → pages, / search</span></div>'
        f'<div id="samples">{"".join(browser_rows)}</div></section>'
    )


# --- the page ---------------------------------------------------------------------------

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:0 16px 48px;color:#111}
h1{margin:16px 0 4px}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #e5e7eb;padding:3px 8px;text-align:right}
.kv th{text-align:left;background:#f9fafb}.kv td{text-align:left}.errors td{text-align:left}
tr.flag td,p.flag{color:#b91c1c;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px}
figure.chart{margin:0;border:1px solid #e5e7eb;border-radius:6px;padding:4px}
figure.chart svg{width:100%;height:auto}figcaption{font-size:12px}.key{margin-right:12px}
.key i{display:inline-block;width:10px;height:10px;margin-right:4px}
.title{font-weight:600;text-anchor:middle;font-size:13px}.axis{text-anchor:middle;font-size:11px;fill:#555}
.xtick{text-anchor:middle;font-size:10px;fill:#555}.ytick{text-anchor:end;font-size:10px;fill:#555}
.grid line,.grid path{}line.grid{stroke:#eee}line.boundary{stroke:#111;stroke-dasharray:4 3}.note{font-size:11px}
.controls{display:flex;gap:8px;align-items:center;margin:8px 0;flex-wrap:wrap}.hint{color:#666;font-size:12px}
.sample{display:flex;gap:12px;border:1px solid #e5e7eb;border-radius:6px;padding:8px;margin:6px 0}
.sample.hidden{display:none}.media{display:flex;flex-direction:column;gap:6px;width:260px}
.media img{max-width:120px;border:1px solid #ddd}.media audio{width:250px}.nomedia{color:#888;font-size:12px}
.qa{flex:1}.options{list-style:none;padding-left:8px}.meta{color:#555;margin:0}.question{font-weight:600}.output{white-space:pre-wrap;background:#f9fafb;padding:6px}
b.correct{color:#15803d}b.wrong{color:#b91c1c}b.noanswer{color:#a16207}
"""

SCRIPT = """
(function(){
  var rows=[].slice.call(document.querySelectorAll('#samples .sample'));
  if(!rows.length)return;
  var perPage=10,page=0,status=document.getElementById('status-filter'),task=document.getElementById('task-filter'),
      search=document.getElementById('search'),label=document.getElementById('page');
  function matching(){var s=status.value,t=task.value,q=search.value.toLowerCase();
    return rows.filter(function(r){return (!s||r.dataset.status===s)&&(!t||r.dataset.task===t)&&
      (!q||r.dataset.text.indexOf(q)>=0);});}
  function show(){var m=matching(),pages=Math.max(1,Math.ceil(m.length/perPage));page=Math.min(page,pages-1);
    rows.forEach(function(r){r.classList.add('hidden');});
    m.slice(page*perPage,(page+1)*perPage).forEach(function(r){r.classList.remove('hidden');});
    label.textContent='page '+(page+1)+' of '+pages+' ('+m.length+' samples)';}
  [status,task,search].forEach(function(e){e.addEventListener('input',function(){page=0;show();});});
  document.getElementById('prev').onclick=function(){page=Math.max(0,page-1);show();};
  document.getElementById('next').onclick=function(){page=page+1;show();};
  document.addEventListener('keydown',function(e){if(e.target===search)return;
    if(e.key==='ArrowRight'){page=page+1;show();}else if(e.key==='ArrowLeft'){page=Math.max(0,page-1);show();}
    else if(e.key==='/'){e.preventDefault();search.focus();}});
  show();
})();
"""


def content_security_policy(media_sources: str = "data:") -> str:
    """The page's policy: its one script (by hash), its styles, media from `media_sources`; nothing else.

    No inline event handler, injected script or outside request runs, whatever a server
    put in the data (the data is escaped as well: this is the second wall).
    """
    script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    return (
        f"default-src 'none'; script-src 'sha256-{script_hash}'; style-src 'unsafe-inline'; "
        f"img-src {media_sources}; media-src {media_sources}; form-action 'self'; base-uri 'none'"
    )


def page(title: str, sections: Sequence[str], media_sources: str = "data:") -> str:
    """The HTML document: a Content-Security-Policy first (a report opened from a file has no headers)."""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy(media_sources)}">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body><h1>{escape(title)}</h1>"
        f"{''.join(sections)}<script>{SCRIPT}</script></body></html>"
    )


def render_report(
    run: Run, embed_media: bool = True, media_link: MediaLink | None = None, media_sources: str = "data:"
) -> str:
    """The whole report of one run as one HTML document (`media_sources`: where its media may load from)."""
    return page(
        f"omniload · {run.summary.get('model', '')} · {run.summary.get('started_at', '')}",
        [
            settings_section(run),
            stages_section(run),
            sla_section(run),
            concurrency_charts(run),
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


def config_differences(runs: Sequence[Run]) -> str:
    """How the runs differed: every setting whose value is not the same in all of them."""
    facts = [run_facts(run) for run in runs]
    keys = sorted({key for fact in facts for key in fact})
    differing = [key for key in keys if len({json.dumps(fact.get(key), sort_keys=True) for fact in facts}) > 1]
    if not differing:
        return '<section id="differences"><h2>How the runs differed</h2><p>Same settings.</p></section>'
    head = "".join(f"<th>{escape(run.name)}</th>" for run in runs)
    rows = "".join(
        f"<tr><th>{escape(key)}</th>"
        + "".join(f"<td>{escape(json.dumps(fact.get(key)))}</td>" for fact in facts)
        + "</tr>"
        for key in differing
    )
    return (
        f'<section id="differences"><h2>How the runs differed</h2><table class="kv"><thead><tr><th>setting</th>'
        f"{head}</tr></thead><tbody>{rows}</tbody></table></section>"
    )


def stage_deltas(base: Run, other: Run, rate_axis: bool) -> str:
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
            change = (
                f" ({100 * (b - a) / a:+.1f} %)"
                if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a
                else ""
            )
            cells.append(f"<td>{escape(column.shown(second))}{change}</td>")
        rows.append(f"<tr><td>{_load(first, index, rate_axis):g}</td>{''.join(cells)}</tr>")
    head = "".join(f"<th>{escape(column.title)}</th>" for column in columns)
    return (
        f"<h3>{escape(other.name)} against {escape(base.name)}</h3><table><thead><tr>"
        f"<th>{'Rate' if rate_axis else 'Conc.'}</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def render_comparison(runs: Sequence[Run]) -> str:
    """Two or more runs: their stage tables, per-stage deltas against the first, the charts overlaid."""
    sections = []
    base = runs[0]
    rate_axis = all(by_rate(run.stages) for run in runs)
    for run in runs:
        sections.append(f"<section><h2>{escape(run.name)}</h2>{stage_table(run.stages)}</section>")
    sections.append(config_differences(runs))
    deltas = [stage_deltas(base, run, rate_axis) for run in runs[1:]]
    sections.append(f'<section id="deltas"><h2>Per-stage differences</h2>{"".join(deltas)}</section>')

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

    sections.append(
        '<section id="charts"><h2>Overlaid</h2><div class="grid">'
        + "".join(
            [
                overlay("Requests per second", "req/s", lambda s: s["rps"]),
                overlay("Output tokens per second", "tok/s", lambda s: s["output_tokens_per_s"]),
                overlay(
                    "p99 TTFT", "ms", lambda s: s["ttft_s"]["p99"] * 1000 if s["ttft_s"]["p99"] is not None else None
                ),
                overlay(
                    "p99 TPOT", "ms", lambda s: s["tpot_s"]["p99"] * 1000 if s["tpot_s"]["p99"] is not None else None
                ),
            ]
        )
        + "</div></section>"
    )
    return page("omniload · comparison of " + ", ".join(run.name for run in runs), sections)
