"""Traces (--trace): requests sent at recorded times, with recorded lengths and shared prompt blocks.

Two layouts, by the file's name:
- `.jsonl`: Mooncake's traces (`{"timestamp": ms, "input_length": N, "output_length": M,
  "hash_ids": [...]}`, kvcache-ai/Mooncake's FAST'25 traces): each hash id stands for one block of
  512 prompt tokens, so requests sharing leading hash ids share those blocks of their prompts (a
  prefix cache hits them); the block's text is made from its id, so equal ids give equal text;
- `.csv`: `offset_s,input_tokens,output_tokens` with a header row.

The whole trace is one open-loop stage: request i is due at its offset / --trace-speed after the
stage starts (harness/master/arrivals.py's schedule from offsets), whatever is in flight (up to
--max-concurrency), and each record keeps its due time and lateness as a --rate stage's do.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

MOONCAKE_BLOCK_TOKENS = 512
MAX_TRACE_ROWS = 1_000_000


class TraceError(ValueError):
    """The trace cannot be used; the message names the line."""


@dataclass(frozen=True)
class TraceRow:
    offset_s: float  # after the trace's first request
    input_tokens: int
    output_tokens: int
    hash_ids: tuple[int, ...] = ()  # Mooncake: the prompt's 512-token blocks


def read_trace(path: str) -> list[TraceRow]:
    """The trace's rows in time order, offsets from the first (TraceError naming the bad line)."""
    suffix = Path(path).suffix.lower()
    try:
        with open(path, encoding="utf-8", newline="") as file:
            rows = _mooncake(file) if suffix == ".jsonl" else _csv(file) if suffix == ".csv" else None
    except OSError as exc:
        raise TraceError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if rows is None:
        raise TraceError(f"{path}: a Mooncake .jsonl or an offset,input,output .csv")
    if not rows:
        raise TraceError(f"{path}: no requests")
    rows.sort(key=lambda row: row.offset_s)
    start_s = rows[0].offset_s
    return [TraceRow(row.offset_s - start_s, row.input_tokens, row.output_tokens, row.hash_ids) for row in rows]


def _mooncake(file: TextIO) -> list[TraceRow]:
    rows: list[TraceRow] = []
    for number, line in enumerate(file, 1):
        if not line.strip():
            continue
        if len(rows) >= MAX_TRACE_ROWS:
            raise TraceError(f"more than {MAX_TRACE_ROWS} requests")
        try:
            item = json.loads(line)
            hash_ids = tuple(int(h) for h in item.get("hash_ids") or ())
            rows.append(
                _row(number, float(item["timestamp"]) / 1000, item["input_length"], item["output_length"], hash_ids)
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise TraceError(f"line {number}: not a Mooncake request ({type(exc).__name__}: {exc})") from None
    return rows


def _csv(file: TextIO) -> list[TraceRow]:
    reader = csv.reader(file)
    rows = []
    for number, cells in enumerate(reader, 1):
        if number == 1 or not cells:
            continue  # the header
        try:
            offset_s, input_tokens, output_tokens = cells[:3]
            rows.append(_row(number, float(offset_s), int(input_tokens), int(output_tokens), ()))
        except ValueError as exc:
            raise TraceError(f"line {number}: expected offset_s,input_tokens,output_tokens ({exc})") from None
    return rows


def _row(
    number: int, offset_s: float, input_tokens: object, output_tokens: object, hash_ids: tuple[int, ...]
) -> TraceRow:
    if not math.isfinite(offset_s) or offset_s < 0:
        raise TraceError(f"line {number}: time {offset_s} is not a finite time at or after 0")
    if not isinstance(input_tokens, int) or not isinstance(output_tokens, int) or input_tokens < 9 or output_tokens < 1:
        raise TraceError(f"line {number}: lengths {input_tokens}, {output_tokens}: at least 9 input and 1 output token")
    return TraceRow(offset_s, input_tokens, output_tokens, hash_ids)
