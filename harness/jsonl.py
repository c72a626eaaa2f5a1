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


def read_jsonl(path: str) -> list[dict[str, Any]]:
    """Every line of a JSONL file as a dict (blank lines skipped)."""
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]
