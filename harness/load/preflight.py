"""Checks against the server before load: reachable, lengths that fit, a prompt counted as the server counts it."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np

from harness import safejson
from harness.argparsing import BadOption
from harness.completions import MAX_MESSAGE_CHARS, error_message
from harness.endpoint import Endpoint
from harness.fetch import Bounds, FetchError, Unbounded, fetch
from harness.load.images import encode_image, make_image
from harness.load.payloads import VideoPart, request_body
from harness.load.sse import SseReader, SseTooLong
from harness.load.stream import ChatStream
from harness.load.video import make_video, sound_track
from harness.videospec import VIDEO_MIME_TYPE, VideoSpec
from harness.visible import visible

if TYPE_CHECKING:
    from harness.options import ConnectionSpec, PayloadSpec

logger = logging.getLogger(__name__)

TOKENIZE_PATH = "/tokenize"
VERSION_PATH = "/version"
METRICS_PATH = "/metrics"
DETECT_TIMEOUT_S = 10.0
PREFLIGHT_TIMEOUT_S = 120.0  # one small request, but a loaded server may queue it
PREFLIGHT_TOKENS = 2
PREFLIGHT_IMAGE_SIDE_PX = 32
PREFLIGHT_VIDEO_SIDE_PX = 64
PREFLIGHT_VIDEO_SECONDS = 1.0
PREFLIGHT_PROMPT = "Say hello."
PREFLIGHT_ID_PREFIX = "preflight-"
# Bounds of a check when the caller has no run's timeouts (tests, the generator's /tokenize sample).
DEFAULT_BOUNDS = Bounds(DETECT_TIMEOUT_S, DETECT_TIMEOUT_S, 2 * DETECT_TIMEOUT_S)


def bounds_for(connection: ConnectionSpec, cap_s: float) -> Bounds:
    """A check before load within the run's own timeouts (connect + read, at most total) and at most cap_s."""
    return Bounds.of(connection.connect_timeout_s, connection.read_timeout_s, connection.total_timeout_s, cap_s)


TRANSIENT_STATUSES = frozenset({408, 429})  # and every 5xx: the server is busy or broken, not refusing the shape
# vLLM's request extensions and the flag that stops omniload sending each one.
VLLM_EXTENSION_FLAGS = {"min_tokens": "--min-tokens 0", "ignore_eos": "--no-ignore-eos"}


def check_prompt_with_server(
    endpoint: Endpoint, prompt_text: str, expected_tokens: int, bounds: Bounds = DEFAULT_BOUNDS
) -> dict[str, Any]:
    """Count one prompt with the server's /tokenize (vLLM has it); a mismatch is logged.

    Returns {"expected", "server", "match"}, or {"skipped": why} when the server has no
    /tokenize or cannot be reached (the load itself will say more).
    """
    body = json.dumps(
        {"model": endpoint.model, "messages": [{"role": "user", "content": prompt_text}], "add_generation_prompt": True}
    ).encode()
    headers = {"Content-Type": "application/json", **endpoint.auth_headers()}
    try:
        response = fetch("POST", endpoint.base_url + TOKENIZE_PATH, bounds, headers, body)
    except FetchError as exc:
        return {"skipped": str(exc)}
    if response.status != 200:
        return {"skipped": f"/tokenize answered HTTP {response.status}"}
    try:
        count = safejson.loads(response.body)["count"]
    except (ValueError, KeyError, TypeError):
        count = None
    if not isinstance(count, int) or isinstance(count, bool):
        return {"skipped": "/tokenize answered without a count"}
    match = count == expected_tokens
    if not match:
        logger.warning(
            "omniload: the server counts %d tokens in a prompt built as %d; is --tokenizer-path "
            "the served model's tokenizer?",
            count,
            expected_tokens,
        )
    return {"expected": expected_tokens, "server": count, "match": match}


def check_reachable(endpoint: Endpoint, connect_timeout_s: float) -> None:
    """Connect once to the server before any load (as evalscope does); BadOption("--host") when that fails."""
    parts = urlsplit(endpoint.base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "", port), timeout=connect_timeout_s).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise BadOption("--host", f"cannot connect to {parts.hostname}:{port} ({reason})") from None


def server_max_model_len(endpoint: Endpoint, bounds: Bounds = DEFAULT_BOUNDS) -> int | None:
    """The server's context window as its /tokenize reports it (vLLM does), or None when it says nothing.

    An endless answer is BadOption("--host").
    """
    body = json.dumps({"model": endpoint.model, "prompt": "x"}).encode()
    headers = {"Content-Type": "application/json", **endpoint.auth_headers()}
    try:
        response = _checked_fetch("POST", endpoint.base_url + TOKENIZE_PATH, bounds, headers, body)
        limit = safejson.loads(response.body)["max_model_len"] if response.status == 200 else None
    except (FetchError, ValueError, KeyError, TypeError):
        return None
    return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else None


def _checked_fetch(method: str, url: str, bounds: Bounds, headers: dict[str, str], body: bytes | None = None) -> Any:
    """fetch, where an endless answer refuses the run (BadOption("--host")); other failures raise FetchError."""
    try:
        return fetch(method, url, bounds, headers, body)
    except Unbounded as exc:
        raise BadOption(
            "--host", f"{method} {urlsplit(url).path}: {exc}; is this an OpenAI-compatible server?"
        ) from None


def check_lengths_fit(endpoint: Endpoint, payload: PayloadSpec, bounds: Bounds = DEFAULT_BOUNDS) -> None:
    """Refuse prompts plus outputs longer than the server's max_model_len (before load)."""
    limit = server_max_model_len(endpoint, bounds)
    needed = payload.max_prompt_tokens + payload.prefix_tokens + payload.max_tokens
    if limit is not None and needed > limit:
        raise BadOption(
            "--max-prompt-length",
            f"{payload.max_prompt_tokens} prompt + {payload.prefix_tokens} "
            f"prefix + {payload.max_tokens} output tokens = {needed}, more than the server's "
            f"max_model_len {limit} (images add more)",
        )


def detect_server_profile(endpoint: Endpoint, bounds: Bounds = DEFAULT_BOUNDS) -> tuple[str, str]:
    """("vllm" or "openai", why): vLLM answers /version, and its /metrics carry vllm: names.

    Says whether the server's own metrics can be scraped; which request fields are sent
    is decided by the server's answer to them (hooks.check_before_load).
    """
    for path, looks_like_vllm in ((VERSION_PATH, _has_version), (METRICS_PATH, _has_vllm_metrics)):
        try:
            response = _checked_fetch("GET", endpoint.base_url + path, bounds, endpoint.auth_headers())
        except FetchError:
            continue
        if response.status == 200 and looks_like_vllm(response.body):
            return "vllm", f"{path} looks like vLLM's: its metrics are scraped"
    return "openai", f"no vLLM {VERSION_PATH} or {METRICS_PATH}: no server metrics to scrape"


def _has_version(body: bytes) -> bool:
    try:
        return isinstance(safejson.loads(body).get("version"), str)
    except (ValueError, AttributeError):
        return False


def _has_vllm_metrics(body: bytes) -> bool:
    return b"\nvllm:" in body or body.startswith(b"vllm:")


def check_request_shape(endpoint: Endpoint, payload: PayloadSpec, bounds: Bounds = DEFAULT_BOUNDS) -> None:
    """One small request with exactly the run's body shape (extensions, images, extras) before load.

    A refusal stops the run here with one line naming the fields the server refused and
    the flags that drop them, instead of failing every request of every stage.
    """
    small = dataclasses.replace(
        payload, max_tokens=PREFLIGHT_TOKENS, min_tokens=min(payload.min_tokens, PREFLIGHT_TOKENS)
    )
    image = encode_image(
        make_image(
            PREFLIGHT_IMAGE_SIDE_PX,
            PREFLIGHT_IMAGE_SIDE_PX,
            payload.image_mode,
            payload.image_content,
            np.random.default_rng(0),
        ),
        payload.image_encoding,
        payload.image_content,
    )
    videos = [_preflight_video(payload)] * payload.video.num
    body = request_body(small, endpoint.model, PREFLIGHT_PROMPT, [image] * payload.image_num, videos=videos)
    headers = {
        "Content-Type": "application/json",
        "X-Request-Id": f"{PREFLIGHT_ID_PREFIX}{uuid.uuid4().hex[:12]}",
        **endpoint.auth_headers(),
    }
    try:
        response = _checked_fetch("POST", endpoint.chat_url, bounds, headers, body)
    except FetchError as exc:
        raise BadOption("--host", f"the first request to {endpoint.chat_url} failed ({exc})") from None
    if response.status == 200:
        if payload.speech.enabled:
            _check_speech(response.body)
        return
    if response.status >= 500 and videos:
        _check_video_fault(endpoint, bounds, headers, small, [image] * payload.image_num, response.status)
    if response.status in TRANSIENT_STATUSES or response.status >= 500:
        logger.warning(
            "omniload: the first request got HTTP %d (transient, not a refusal of its shape); going on", response.status
        )
        return
    try:
        message = error_message(safejson.loads(response.body))
    except ValueError:
        message = visible(response.body[:MAX_MESSAGE_CHARS].decode("utf-8", "replace"))
    raise _refusal(response.status, message, json.loads(body).keys(), payload)


def _check_speech(body: bytes) -> None:
    """--audio-output: the run's request came back with a spoken answer that can be read (BadOption if not)."""
    reader, stream = SseReader(), ChatStream()
    try:
        for event in reader.feed(body, 0.0):
            stream.on_event(event)
    except SseTooLong as exc:
        raise BadOption("--audio-output", f"the server's answer cannot be read: {exc}") from None
    if stream.failure is not None:
        raise BadOption("--audio-output", f"the server's answer cannot be read: {stream.failure[1]}")
    if not stream.audio.arrivals_s:
        raise BadOption(
            "--audio-output",
            "the server answered the run's request in text alone: it cannot speak (vLLM-Omni speaks: vllm serve "
            "Qwen/Qwen3-Omni-30B-A3B-Instruct --omni; so does omniload sim --talker)",
        )


def _preflight_video(payload: PayloadSpec) -> VideoPart:
    """A small clip of the run's kind (with a sound track when the run's clips are heard)."""
    rng = np.random.default_rng(0)
    track = None
    if payload.video.audio:
        track = sound_track(PREFLIGHT_VIDEO_SECONDS, payload.video.fps, payload.video.audio, rng)
    clip = make_video(
        PREFLIGHT_VIDEO_SIDE_PX,
        PREFLIGHT_VIDEO_SIDE_PX,
        PREFLIGHT_VIDEO_SECONDS,
        payload.video.fps,
        "shapes",
        rng,
        track,
    )
    return VideoPart(clip, VIDEO_MIME_TYPE, PREFLIGHT_VIDEO_SECONDS, 0)


def _check_video_fault(
    endpoint: Endpoint, bounds: Bounds, headers: dict[str, str], small: PayloadSpec, images: list[bytes], status: int
) -> None:
    """A server error on the run's request with video: the same request without it, once. Answered, the
    videos are what the server cannot take (transformers serve 5.17 fails every video_url with a 500)."""
    body = request_body(dataclasses.replace(small, video=VideoSpec()), endpoint.model, PREFLIGHT_PROMPT, images)
    try:
        response = _checked_fetch("POST", endpoint.chat_url, bounds, headers, body)
    except FetchError:
        return
    if response.status == 200:
        raise BadOption(
            "--video-num",
            f"the server fails the run's request with a video (HTTP {status}) and answers it without one: "
            "it cannot take video_url; --video-num 0 sends no video",
        )


class ExtensionsRefused(BadOption):
    """The server refused vLLM's request extensions by name (`fields`); --server-profile auto can drop them."""

    def __init__(self, message: str, fields: list[str]) -> None:
        super().__init__("--server-profile", message)
        self.fields = fields


def _refusal(status: int, message: str, fields: Iterable[str], payload: PayloadSpec) -> BadOption:
    said = f"the server refused the run's request (HTTP {status}: {message})"
    named = [field for field in fields if field in message]
    extension_fields = [field for field in named if field in VLLM_EXTENSION_FLAGS]
    if extension_fields:
        flags = " ".join(VLLM_EXTENSION_FLAGS[field] for field in extension_fields)
        return ExtensionsRefused(
            f"{said}; it does not take {', '.join(extension_fields)}: --server-profile openai (or {flags}) drops them",
            extension_fields,
        )
    if "mm_processor_kwargs" in named and "mm_processor_kwargs" not in payload.extra_body:
        return BadOption(
            "--video-audio",
            f"{said}; it does not take mm_processor_kwargs (use_audio_in_video): without --video-audio the "
            "clips are sent without their sound track heard",
        )
    if payload.speech.enabled and {"modalities", "audio"} & set(named):
        return BadOption("--audio-output", f"{said}; it cannot be asked for a spoken answer")
    extra_fields = [field for field in named if field in payload.extra_body]
    if extra_fields:
        return BadOption("--extra-args", f"{said}; it does not take {', '.join(extra_fields)}")
    if status in (401, 403):
        return BadOption("--api-key", said)
    if status == 404 and "model" in message.lower():
        return BadOption("--model", said)
    if "image" in message.lower() and payload.image_num:
        return BadOption("--image-num", f"{said}; --image-num 0 sends text only")
    if "video" in message.lower() and payload.video.num:
        return BadOption("--video-num", f"{said}; --video-num 0 sends no video")
    return BadOption("--host", said)
