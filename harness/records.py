"""One record per request: what both sides of a run share, and the derived per-request metrics.

Definitions (README, "Metric definitions"): t_send is taken just before the request is
written; TTFT is the first event carrying output (a role-only or empty delta does not
count); TTFOT the first non-reasoning output; latency the last event before [DONE];
TPOT = (latency - TTFT) / (completion_tokens - 1); ITL the gaps between output events.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypedDict

from harness.jsonl import read_jsonl
from harness.visible import visible


class RequestError(TypedDict):
    """Why a request failed: a reason from the fixed vocabulary and the server's or client's message."""

    reason: str  # one of harness.wire's failure reasons, or http_<status>
    message: str


@dataclass(slots=True)
class RequestRecord:
    """One request as the client saw it; filled by harness/load/client.py, kept by the master."""

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
    multimodal_tokens: int | None = None  # the server's prompt tokens minus the text's: images and audio
    completion_tokens: int | None = None
    tokens_source: Literal["usage", "local"] | None = None
    finish_reason: str | None = None
    done_marker: bool | None = None  # a stream ended with data: [DONE] (optional: real servers omit it)
    warmup: bool = False  # a sweep's warm-up request, left out of the stage's statistics
    due_s: float | None = None  # a rate stage's scheduled send time (unix s)
    expected_media_tokens: int | None = None  # images, audio and video by Qwen3-Omni's rules (harness/media_tokens.py)
    request_class: str = "load"  # "load", a --mix class, or "probe": a small text request beside the load
    expected_video_tokens: int = 0  # of the media tokens, the videos' (their heard sound tracks included)
    request_bytes: int = 0  # the body's size as sent
    images: int = 0  # images sent
    audio_s: float = 0.0  # seconds of audio clips sent (input_audio)
    video_s: float = 0.0  # seconds of video sent
    cached_tokens: int | None = None  # usage.prompt_tokens_details.cached_tokens, when the server said
    conversation: str | None = None  # --multi-turn: the conversation's id (its first turn's request id)
    turn: int = 1  # --multi-turn: the turn's position in its conversation, from 1
    prefix_group: int | None = None  # --prefix-groups: the shared prefix it started with (0: the most popular)
    # --audio-output: the spoken answer as a listener gets it (harness/playback.py)
    ttfa_s: float | None = None  # time to first audio: the first audio chunk's arrival after the send
    audio_out_s: float | None = None  # seconds of spoken answer received
    audio_rtf: float | None = None  # the last chunk's arrival per second of audio (real-time factor)
    playback_start_s: float | None = None  # the earliest playback start that never runs dry
    underruns: int = 0  # times a player started at the first chunk ran dry
    underrun_s: float = 0.0  # how long it was dry, in all
    audio_chunk_at_s: list[float] = field(default_factory=list)  # each audio chunk's arrival after the send
    audio_chunk_s: list[float] = field(default_factory=list)  # each audio chunk's seconds
    audio_sample: str | None = None  # the answer as base64 WAV (the first few of a stage: the report plays them)

    @property
    def lateness_s(self) -> float | None:
        """How long after its due time the request was sent (rate stages; never negative)."""
        if self.due_s is None or not self.t_send:
            return None
        return max(0.0, self.t_send - self.due_s)

    def fail(self, reason: str, message: str) -> None:
        """Mark the request failed; the first failure is the one kept (its control characters made visible)."""
        if self.error is None:
            self.status = "error"
            self.error = {"reason": reason, "message": visible(message)}

    def to_dict(self) -> dict[str, Any]:
        """The record as one line of requests.jsonl (and the RECORD message)."""
        # Not dataclasses.asdict: its deep copy of the ITL list costs ~0.3 ms a request.
        return {name: getattr(self, name) for name in RECORD_FIELDS}

    @staticmethod
    def from_dict(row: dict[str, Any]) -> RequestRecord:
        """A record back from `to_dict` (a message or a JSONL line); unknown keys are ignored."""
        return RequestRecord(**{name: row[name] for name in RECORD_FIELDS if name in row})


RECORD_FIELDS = tuple(item.name for item in fields(RequestRecord))


def error_reason(record: RequestRecord) -> str | None:
    """The record's failure reason, None when it succeeded."""
    return record.error["reason"] if record.error is not None else None


def time_per_output_token_s(latency_s: float, ttft_s: float, completion_tokens: int) -> float | None:
    """TPOT in seconds; None unless there are at least two tokens."""
    if completion_tokens <= 1:
        return None
    return (latency_s - ttft_s) / (completion_tokens - 1)


def inter_token_latencies_s(output_times_s: list[float]) -> list[float]:
    """Gaps between consecutive output-carrying events, in seconds."""
    return [later - earlier for earlier, later in zip(output_times_s, output_times_s[1:], strict=False)]


def read_records(path: str, skip_unreadable: bool = False) -> list[RequestRecord]:
    """The records of a requests.jsonl file, typed (`skip_unreadable`: see read_jsonl)."""
    return [RequestRecord.from_dict(row) for row in read_jsonl(path, skip_unreadable)]
