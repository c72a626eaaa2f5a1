"""The server's side in the report: vLLM's gauges over time and its own TTFT/TPOT per stage.

Reads what the master scraped (server_metrics.jsonl: the kept /metrics lines with their
read time) and draws them on the same time axis as the client's request timelines.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup
from prometheus_client.parser import text_string_to_metric_families

from harness.records import RequestRecord
from harness.report import charts
from harness.report.render import sections, svg
from harness.results import SERVER_GAUGES, SERVER_HISTOGRAMS, SERVER_KV_CACHE, StageSummary


def parse_scrape(lines: list[str]) -> dict[str, Any]:
    """Gauge values (summed over label sets) and cumulative bucket counts {le: count} per histogram.

    The server's text is data: a line the parser refuses is skipped (the rest of the
    scrape stays), and a value that is not finite (a +Inf gauge) is left out.
    """
    values: dict[str, Any] = defaultdict(float)
    buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for line in lines:
        try:
            samples = [
                sample for family in text_string_to_metric_families(str(line) + "\n") for sample in family.samples
            ]
            for sample in samples:
                if not math.isfinite(sample.value):
                    continue
                if sample.name.endswith("_bucket"):
                    upper = float(sample.labels["le"])
                    buckets[sample.name.removesuffix("_bucket")][upper] += sample.value
                else:
                    values[sample.name] += sample.value
        except (ValueError, KeyError, TypeError, IndexError):
            continue
    values["buckets"] = buckets
    return values


def _at_or_before(scrapes: list[tuple[float, dict[str, Any]]], at_s: float) -> dict[str, Any] | None:
    earlier = [parsed for read_at, parsed in scrapes if read_at <= at_s]
    return earlier[-1] if earlier else None


def _at_or_after(scrapes: list[tuple[float, dict[str, Any]]], at_s: float) -> dict[str, Any] | None:
    later = [parsed for read_at, parsed in scrapes if read_at >= at_s]
    return later[0] if later else (scrapes[-1][1] if scrapes else None)


def _bucket_bars(before: dict[str, Any] | None, after: dict[str, Any], histogram: str) -> list[tuple[str, float]]:
    """Requests per bucket between two scrapes (non-cumulative), labelled by upper bound in ms."""
    end = after["buckets"].get(histogram, {})
    start = before["buckets"].get(histogram, {}) if before is not None else {}
    bars, previous = [], 0.0
    for le in sorted(end):
        cumulative = end[le] - start.get(le, 0.0)
        label = "+Inf" if le == float("inf") else f"≤{le * 1000:g}"
        bars.append((label, cumulative - previous))
        previous = cumulative
    while bars and bars[-1][1] == 0:  # trailing empty buckets say nothing
        bars.pop()
    return bars


def server_sections(
    lines: Sequence[dict[str, Any]], stages: Sequence[StageSummary], records: Sequence[RequestRecord]
) -> Markup:
    """The report's "Server" section; empty when nothing was scraped (a server without /metrics)."""
    if not lines or not records:
        return Markup()
    origin_s = min(record.t_send for record in records)
    scrapes = [(line["t"], parse_scrape(line["lines"])) for line in lines]
    figures = [
        charts.line_chart(
            "Server: requests running and waiting",
            "seconds since the first request",
            "requests",
            [
                (label, [(read_at - origin_s, parsed[name]) for read_at, parsed in scrapes])
                for name, label in SERVER_GAUGES.items()
            ],
        ),
        charts.line_chart(
            "Server: KV-cache usage",
            "seconds since the first request",
            "%",
            [("KV cache", [(read_at - origin_s, 100 * parsed[SERVER_KV_CACHE]) for read_at, parsed in scrapes])],
        ),
    ]
    by_stage: dict[int, list[RequestRecord]] = defaultdict(list)
    for record in records:
        if not record.warmup:
            by_stage[record.stage].append(record)
    for index in sorted(by_stage):
        start_s = min(record.t_send for record in by_stage[index])
        end_s = max(record.t_send + (record.duration_s or 0.0) for record in by_stage[index])
        after = _at_or_after(scrapes, end_s)
        if after is None:
            continue
        before = _at_or_before(scrapes, start_s)
        parallel = stages[index]["parallel"] if index < len(stages) else None
        for histogram, label in SERVER_HISTOGRAMS.items():
            figures.append(
                charts.bar_chart(
                    f"Server {label}, stage {index + 1} (concurrency {parallel})",
                    f"{label} bucket, upper bound (ms)",
                    "requests",
                    _bucket_bars(before, after, histogram),
                )
            )
    return sections().figures(
        "server", "The server's side (its /metrics, scraped during the run)", [svg(figure) for figure in figures]
    )
