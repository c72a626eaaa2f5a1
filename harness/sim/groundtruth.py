"""The simulator's record of what it did to each request: one JSON line per request.

Times are wall-clock seconds (unix), derived from one perf_counter anchor so they are as
precise and monotonic as perf_counter; `*_at` token times are taken right after the
bytes were handed to the socket.
"""

from __future__ import annotations

import json
import time
from typing import IO, Any, TypedDict

_PERF_ANCHOR = time.perf_counter()
_WALL_ANCHOR = time.time()


def wall_from_perf(perf_s: float) -> float:
    """Unix seconds for a perf_counter reading."""
    return _WALL_ANCHOR + (perf_s - _PERF_ANCHOR)


class GroundTruthRecord(TypedDict, total=False):
    request_id: str
    received_at: float
    first_token_at: float | None
    last_token_at: float | None
    prompt_tokens: int
    text_tokens: int
    image_tokens: int
    audio_tokens: int
    images: list[list[int | str]]  # per image as decoded: [width_px, height_px, PIL mode, format]
    completion_tokens: int
    events: int
    finish_reason: str | None
    fault: str | None
    status: int
    # only with --ground-truth-events, per output event in integer microseconds: send time
    # after received_at, and lateness of the send against the engine's schedule
    event_offset_us: list[int]
    event_lag_us: list[int]


class GroundTruthWriter:
    """Appends records to a JSONL file, flushed per record (so a crash loses nothing)."""

    def __init__(self, path: str) -> None:
        self._file: IO[str] = open(path, "a", encoding="utf-8")

    def write(self, record: GroundTruthRecord | dict[str, Any]) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
