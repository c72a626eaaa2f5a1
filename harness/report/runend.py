"""The end of a stage and of a run, on the console and on disk: the tables, the notes,
summary.json, stages.csv and sla_summary.json.

The master hands over what it measured (harness/results.py's shapes); this module says it.
"""

from __future__ import annotations

import os
from typing import Any

from harness.report.recommendations import late_line, limited_line, recommendations
from harness.report.stages_csv import write_stages_csv
from harness.report.summary import write_json, write_summary
from harness.report.table import format_stage_table
from harness.results import SLA_SUMMARY_FILE, RunSummary, StageSummary


def print_stage(stage_name: str, summary: StageSummary) -> None:
    """A stage that just ended: its table, and whether the load generator limited it."""
    print(f"\nomniload stage {stage_name}\n{format_stage_table([summary])}", flush=True)
    number = summary.get("stage", 1)
    if summary.get("client", {}).get("limited"):
        print(limited_line(number, summary, summary["client"]), flush=True)
    if summary.get("generator_late"):
        print(late_line(number, summary), flush=True)
    if "probe" in summary:
        print(probe_line(summary), flush=True)
    if "turns" in summary or "cache" in summary:
        print(conversation_line(summary), flush=True)


def conversation_line(summary: StageSummary) -> str:
    """First turns against later ones (--multi-turn), and the prompt tokens the server found cached."""
    parts = []
    for name, figures in summary.get("turns", {}).items():
        p50_s = figures["ttft_s"]["p50"]
        parts.append(f"{name} turns {figures['sent']}, p50 TTFT {'-' if p50_s is None else f'{p50_s * 1000:.1f} ms'}")
    if "cache" in summary:
        cache = summary["cache"]
        parts.append(
            f"prompt cache: {cache['cached_tokens']} of {cache['prompt_tokens']} prompt tokens cached "
            f"({cache['cached_share'] * 100:.1f} %, the server's usage)"
        )
    return "; ".join(parts)


def probe_line(summary: StageSummary) -> str:
    """What the stage's load cost a text user: its probes' TTFT."""
    probe = summary["probe"]
    ttft = probe["ttft_s"]
    shown = "-" if ttft["p50"] is None else f"p50 {ttft['p50'] * 1000:.1f} ms, p90 {(ttft['p90'] or 0) * 1000:.1f} ms"
    return (
        f"probes during the stage: {probe['sent']} sent, {probe['failed']} failed; their TTFT {shown} "
        "(text only, their own prompt and output: what this load costs a text user)"
    )


def write_run(report_dir: str, summary: RunSummary, requests_path: str, sla_document: dict[str, Any] | None) -> None:
    """summary.json, stages.csv (and sla_summary.json), then the run's table, recommendations and notes."""
    stages = summary["stages"]
    path = write_summary(report_dir, summary)
    csv_path = write_stages_csv(report_dir, stages)
    if sla_document is not None:
        write_json(os.path.join(report_dir, SLA_SUMMARY_FILE), sla_document)
    print("\nomniload summary\n" + format_stage_table(stages))
    if summary.get("repeated"):
        print(
            f"\nomniload repeated stages (--num-runs: each stage's runs pooled)\n{repeated_table(summary['repeated'])}"
        )
    if summary.get("sla"):
        print(f"\nomniload SLA search ({SLA_SUMMARY_FILE})\n{sla_table(summary['sla'])}")
    for line in recommendations(stages, summary.get("lost_workers", {})):
        print(line)
    for note in run_notes(summary):
        print(note)
    print(f"wrote {path}, {csv_path} and {requests_path}\n", flush=True)


def repeated_table(repeated: list[dict[str, Any]]) -> str:
    """The pooled stages' table, then each one's spread between its runs."""
    lines = [format_stage_table(repeated)]  # type: ignore[arg-type]  # pooled stages have a stage's figures
    for stage in repeated:
        between = stage["between_runs"]
        parts = []
        for name, scale, unit in (("rps", 1, " req/s"), ("ttft_p50_s", 1000, " ms"), ("ttft_p90_s", 1000, " ms")):
            figures = between[name]
            if figures["mean"] is not None:
                sd = "-" if figures["sd"] is None else f"{figures['sd'] * scale:.2f}"
                parts.append(
                    f"{name} {figures['mean'] * scale:.2f}{unit} (sd {sd}, {figures['min'] * scale:.2f} to "
                    f"{figures['max'] * scale:.2f})"
                )
        lines.append(f"stage {stage['stage']}, between its {len(stage['runs'])} runs: " + "; ".join(parts))
    return "\n".join(lines)


def run_notes(summary: RunSummary) -> list[str]:
    """What a reader of the figures should know about how the run went."""
    notes = []
    if not summary.get("output_length_enforced", True):
        notes.append(
            f"note: output length not enforced by this server (profile {summary.get('server_profile')}: no "
            "min_tokens/ignore_eos); stage figures use the tokens it produced"
        )
    without_done = sum(stage["streams_without_done"] for stage in summary["stages"])
    if without_done:
        notes.append(f"note: {without_done} streams ended without data: [DONE] (allowed; each had a finish_reason)")
    if summary.get("unreachable_s"):
        notes.append(
            f"note: the server could not be reached for {summary['unreachable_s']:.1f} s "
            "(connect_error; users backed off up to 1 s between tries)"
        )
    payloads: dict[str, Any] = dict(summary.get("payloads", {}))
    if payloads.get("reused"):
        notes.append(
            f"note: {payloads['reused']} requests reused a payload (--reuse-payloads, pools of "
            f"{payloads['pool_size']} in all)"
        )
    if payloads.get("waits"):
        notes.append(
            f"note: {payloads['waits']} requests waited {payloads['wait_s']:.1f} s in all for fresh "
            "payloads: the load generator, not the server, was the limit then (add processes or workers)"
        )
    if not summary.get("completed", True):
        notes.append(
            f"note: the run was stopped ({summary.get('stopped_by') or 'stopped early'}) before every stage "
            "ran its whole budget; summary.json says completed: false"
        )
    return notes


def sla_table(results: list[Any]) -> str:
    """The console table of the search's answers."""
    rows = [("Criteria", "Variable", "Max satisfied", "Note", "Tried")]
    for result in results:
        best = result["max_satisfied"]
        rows.append(
            (
                result["criteria"],
                result["variable"],
                "-" if best is None else f"{best:g}",
                result["note"],
                " ".join(f"{value:g}" for value in result["tried"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip() for row in rows
    )
