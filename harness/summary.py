"""summary.json and the console table, from stage summaries."""

from __future__ import annotations

import json
import os
from typing import Any, TypedDict

from harness.stats import Distribution, StageSummary

SUMMARY_FILE = "summary.json"
REQUESTS_FILE = "requests.jsonl"


class RunSummary(TypedDict, total=False):
    model: str
    started_at: str  # ISO 8601 UTC
    config: dict[str, Any]  # the options, secrets left out
    stages: list[StageSummary]
    payloads: dict[str, Any]  # how the pool was built and whether it ran out
    tokenize_check: dict[str, Any]  # a prompt's length as the server's /tokenize counts it
    client: dict[str, float]  # CPU the load generator used during load (cpu_s, wall_s, cpu_percent)
    workers: dict[str, Any]  # distributed: per worker, its payloads and tokenize_check
    lost_workers: dict[str, int]  # worker id -> requests lost in flight
    omnibench: dict[str, Any]


def write_summary(report_dir: str, summary: RunSummary) -> str:
    """Write summary.json atomically (a reader never sees half a file); returns its path."""
    path = os.path.join(report_dir, SUMMARY_FILE)
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(summary, file, indent=2)
        file.write("\n")
    os.replace(temporary, path)
    return path


# (header, stage field, distribution key or None, scale, format)
TABLE_COLUMNS: tuple[tuple[str, str, str | None, float, str], ...] = (
    ("Conc.", "parallel", None, 1, "{}"),
    ("Sent", "sent", None, 1, "{}"),
    ("RPS", "rps", None, 1, "{:.2f}"),
    ("Avg Lat.(s)", "latency_s", "mean", 1, "{:.3f}"),
    ("P99 Lat.(s)", "latency_s", "p99", 1, "{:.3f}"),
    ("Avg TTFT(ms)", "ttft_s", "mean", 1000, "{:.1f}"),
    ("P99 TTFT(ms)", "ttft_s", "p99", 1000, "{:.1f}"),
    ("Avg TPOT(ms)", "tpot_s", "mean", 1000, "{:.2f}"),
    ("P99 TPOT(ms)", "tpot_s", "p99", 1000, "{:.2f}"),
    ("Gen. tok/s", "output_tokens_per_s", None, 1, "{:.1f}"),
    ("Success", "success_rate", None, 100, "{:.1f}%"),
)


def format_stage_table(stages: list[StageSummary]) -> str:
    """evalscope perf's per-stage columns as a plain-text table."""
    rows = [[header for header, *_ in TABLE_COLUMNS]]
    for stage in stages:
        row = []
        for _, field, key, scale, template in TABLE_COLUMNS:
            value: Any = stage[field]  # type: ignore[literal-required]
            if key is not None:
                value = _pick(value, key)
            row.append("-" if value is None else template.format(value * scale if scale != 1 else value))
        rows.append(row)
    widths = [max(len(row[column]) for row in rows) for column in range(len(TABLE_COLUMNS))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    for stage in stages:
        if stage["errors"]:
            errors = ", ".join(f"{reason} {count}" for reason, count in sorted(stage["errors"].items()))
            lines.append(f"errors at conc. {stage['parallel']}: {errors}")
    return "\n".join(lines)


def _pick(values: Distribution, key: str) -> float | None:
    return values[key]  # type: ignore[literal-required,no-any-return]
