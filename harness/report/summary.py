"""summary.json and other JSON files of a run, written atomically."""

from __future__ import annotations

import json
import os
from typing import Any

from harness.results import SUMMARY_FILE, RunSummary


def write_summary(report_dir: str, summary: RunSummary) -> str:
    """Write summary.json atomically (a reader never sees half a file); returns its path."""
    return write_json(os.path.join(report_dir, SUMMARY_FILE), summary)


def write_json(path: str, content: Any) -> str:
    """Write a JSON file atomically (a reader never sees half a file); returns its path."""
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(content, file, indent=2)
        file.write("\n")
    os.replace(temporary, path)
    return path
