"""JSON Lines files written one durable line at a time: requests.jsonl, the simulator's ground truth."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any


class JsonlWriter:
    """Appends one JSON object per line, flushed per line (a crash loses nothing)."""

    def __init__(self, path: str, fresh: bool = False) -> None:
        """fresh: start an empty file (a run's own records); else append (resumable results)."""
        self.path = path
        self._file: IO[str] = open(path, "w" if fresh else "a", encoding="utf-8")

    def write(self, row: Mapping[str, Any]) -> None:
        self._file.write(json.dumps(row, separators=(",", ":")) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_jsonl(path: str, skip_unreadable: bool = False) -> list[dict[str, Any]]:
    """Every line of a JSONL file as a dict (blank lines skipped).

    `skip_unreadable`: a line that is not a JSON object is left out instead of raising
    (a line cut short by a crash, for a report that must still be written).
    """
    rows = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                if not skip_unreadable:
                    raise
                continue
            if isinstance(row, dict) or not skip_unreadable:
                rows.append(row)
    return rows
