"""stages.csv: one row per stage (a mix's stage: its overall row, class "all", then one per class), raw values
in each field's own unit; the figures a reader bets on (RPS, success, TTFT p50/p90) with their 95 % interval
in <name>_low and <name>_high."""

from __future__ import annotations

import csv
import os

from harness.report.columns import CSV, columns_for, with_class_rows
from harness.results import STAGES_CSV, StageSummary


def write_stages_csv(report_dir: str, stages: list[StageSummary]) -> str:
    """Write stages.csv into report_dir; returns its path."""
    columns = columns_for(CSV, stages)
    path = os.path.join(report_dir, STAGES_CSV)
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        header = []
        for column in columns:
            header += [column.name, f"{column.name}_low", f"{column.name}_high"] if column.bounds else [column.name]
        writer.writerow(header)
        for stage in with_class_rows(stages):
            row = []
            for column in columns:
                row.append(column.value(stage))
                if column.bounds:
                    row += [column.bound(stage, 0), column.bound(stage, 1)]
            writer.writerow(row)
    return path
