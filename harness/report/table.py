"""The console table of stages (evalscope perf's columns) and its error lines."""

from __future__ import annotations

from harness.report.columns import CONSOLE, columns_for, with_class_rows
from harness.results import StageSummary


def format_stage_table(stages: list[StageSummary]) -> str:
    """evalscope perf's per-stage columns as a plain-text table (a mix's classes in rows of their own)."""
    stages = with_class_rows(stages)
    columns = columns_for(CONSOLE, stages)
    rows = [[column.title for column in columns]]
    rows += [[column.shown(stage) for column in columns] for stage in stages]
    widths = [max(len(row[index]) for row in rows) for index in range(len(columns))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=False)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    for stage in stages:
        if stage["errors"] and stage.get("request_class", "all") == "all":
            errors = ", ".join(f"{reason} {count}" for reason, count in sorted(stage["errors"].items()))
            lines.append(f"errors at conc. {stage['parallel']}: {errors}")
    return "\n".join(lines)
