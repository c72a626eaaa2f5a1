"""One record per request, the derived per-request metrics, and the durable JSONL file.

Definitions (README, "Metric definitions"): t_send is taken just before the request is
written; TTFT is the first event carrying output (a role-only or empty delta does not
count); TTFOT the first non-reasoning output; latency the last event before [DONE];
TPOT = (latency - TTFT) / (completion_tokens - 1); ITL the gaps between output events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import IO, Any, Literal, TypedDict


class RequestError(TypedDict):
    reason: str  # http_<code>, connect_error, timeout, stream_truncated, malformed_event, ...
    message: str


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    stage: int
    worker: int
    user: int
    t_send: float  # unix seconds
    expected_text_tokens: int
    status: Literal["ok", "error"] = "ok"
    error: RequestError | None = None
    http_status: int | None = None
    duration_s: float | None = None  # t_send to the end of the exchange, whatever the outcome
    ttfb_s: float | None = None
    ttft_s: float | None = None
    ttfot_s: float | None = None
    latency_s: float | None = None
    tpot_s: float | None = None
    itl_s: list[float] = field(default_factory=list)
    tokens_per_event: list[int] = field(default_factory=list)
    prompt_tokens: int | None = None
    multimodal_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_source: Literal["usage", "local"] | None = None
    finish_reason: str | None = None
    warmup: bool = False  # a sweep's warm-up request, left out of the stage's statistics

    def fail(self, reason: str, message: str) -> None:
        """Mark the request failed; the first failure is the one kept."""
        if self.error is None:
            self.status = "error"
            self.error = {"reason": reason, "message": message}

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: its deep copy of the ITL list costs ~0.3 ms a request.
        return {name: getattr(self, name) for name in RECORD_FIELDS}


RECORD_FIELDS = tuple(item.name for item in fields(RequestRecord))


def time_per_output_token_s(latency_s: float, ttft_s: float, completion_tokens: int) -> float | None:
    """TPOT in seconds; None unless there are at least two tokens."""
    if completion_tokens <= 1:
        return None
    return (latency_s - ttft_s) / (completion_tokens - 1)


def inter_token_latencies_s(output_times_s: list[float]) -> list[float]:
    """Gaps between consecutive output-carrying events, in seconds."""
    return [later - earlier for earlier, later in zip(output_times_s, output_times_s[1:])]


class RecordWriter:
    """Appends records to requests.jsonl, flushed per record (a crash loses nothing)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file: IO[str] = open(path, "a", encoding="utf-8")

    def write(self, record: RequestRecord) -> None:
        self.write_dict(record.to_dict())

    def write_dict(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_records(path: str) -> list[dict[str, Any]]:
    """Every line of a JSONL file (requests.jsonl, the simulator's ground truth) as a dict."""
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]
