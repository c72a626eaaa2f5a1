"""stages.csv: one row per stage (a mix's stage: its overall row, class "all", then one per class), raw values
in each field's own unit."""

from __future__ import annotations

import csv
import os

from harness.report.columns import CSV, columns_for, with_class_rows
from harness.results import STAGES_CSV, StageSummary


def write_stages_csv(report_dir: str, stages: list[StageSummary]) -> str:
    """Write stages.csv into report_dir; returns its path."""
    columns = columns_for(CSV)
    path = os.path.join(report_dir, STAGES_CSV)
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow([column.name for column in columns])
        for stage in with_class_rows(stages):
            writer.writerow([column.value(stage) for column in columns])
    return path
