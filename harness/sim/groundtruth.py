"""The simulator's record of what it did to each request: one JSON line per request.

Times are wall-clock seconds (unix), derived from one perf_counter anchor so they are as
precise and monotonic as perf_counter; `*_at` token times are taken right after the
bytes were handed to the socket.
"""

from __future__ import annotations

import time
from typing import TypedDict

_PERF_ANCHOR = time.perf_counter()
_WALL_ANCHOR = time.time()


def wall_from_perf(perf_s: float) -> float:
    """Unix seconds for a perf_counter reading."""
    return _WALL_ANCHOR + (perf_s - _PERF_ANCHOR)


def perf_from_wall(wall_s: float) -> float:
    """The perf_counter reading of a unix time (a kernel timestamp)."""
    return _PERF_ANCHOR + (wall_s - _WALL_ANCHOR)


class GroundTruthRecord(TypedDict, total=False):
    """One line of the ground-truth JSONL: what the simulator did with one request."""

    request_id: str
    received_at: float
    first_token_at: float | None
    last_token_at: float | None
    prompt_tokens: int
    text_tokens: int
    image_tokens: int
    audio_tokens: int
    images: list[list[int | str]]  # per image as decoded: [width_px, height_px, PIL mode, format]
    messages: list[list[str]]  # per message: [role, blake2b of its text, 8 bytes hex]
    messages_digest: str  # blake2b of the body's messages as compact JSON (what a dataset row's sent as)
    answer_digest: str  # blake2b of the answer's content as sent (a later turn resends it as a message)
    cached_tokens: int  # of the prompt, found in the prefix cache (0 without --enable-prefix-caching)
    video_tokens: int  # the videos' tokens, their heard sound tracks included
    video_track_tokens: int  # of which the sound tracks' (0 unless use_audio_in_video)
    videos: list[list[int | str]]  # per video: [width_px, height_px, frames, track samples, blake2b of the file]
    body_digest: str  # blake2b of the request body, 8 bytes hex: equal digests = one payload sent twice
    vllm_fields: list[str]  # vLLM's extensions the body carried (min_tokens, ignore_eos)
    sampling: dict[str, int | bool | None]  # max_tokens, min_tokens, ignore_eos, stream as read from the body
    completion_tokens: int
    events: int
    finish_reason: str | None
    fault: str | None
    status: int
    # --talker, a request that asked for audio: each chunk [sent after received_at in integer microseconds,
    # its samples at 24 kHz, bytes the transport still held after the write (the client's socket was full)],
    # and what a listener gets from them (harness/playback.py)
    audio_chunks: list[list[int]]
    speech_shape: str  # vllm-omni or openai
    ttfa_s: float
    audio_s: float
    underruns: int
    underrun_s: float
    # only with --ground-truth-events, per output event in integer microseconds: send time
    # after received_at, and lateness of the send against the engine's schedule
    event_offset_us: list[int]
    event_lag_us: list[int]
