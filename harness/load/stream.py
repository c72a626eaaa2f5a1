"""What a chat completion stream said: output events and their times, usage, errors.

Fed one SSE event at a time while the stream is open, so the work per event is one
`orjson.loads` (a third of the stdlib's cost per chunk) and a few dict lookups;
everything derived waits for the stream to end.
"""

from __future__ import annotations

from typing import Any

import orjson

from harness import safejson, wire
from harness.completions import MAX_MESSAGE_CHARS, cached_tokens, error_message, usage_counts
from harness.load.speech import AudioChunkError, AudioChunks
from harness.load.sse import SseEvent

DONE_DATA = b"[DONE]"
REASONING_FIELDS = ("reasoning_content", "reasoning")
# The stream guard ends only streams that are clearly endless: more output events than
# this many per asked token, plus a slack (a server's text streamer may split one token's
# text over two events: transformers serve sent 129 events for 128 tokens), or more output
# text than MAX_CHARS_PER_TOKEN per asked token (Qwen3's longest token is 256 characters).
# Whether an output was too long is decided by tokens once the stream has ended.
ENDLESS_EVENTS_PER_TOKEN = 2
ENDLESS_EVENTS_SLACK = 64
MAX_CHARS_PER_TOKEN = 256
ENDLESS_CHARS_SLACK = 65536
# A spoken answer's chunks: a token is rarely over a second of speech, and a server may send ten
# chunks a second; more than this per asked token is an endless audio stream.
ENDLESS_AUDIO_CHUNKS_PER_TOKEN = 16
ENDLESS_AUDIO_CHUNKS_SLACK = 1024


class ChatStream:
    """Accumulates one streamed chat completion (OpenAI/vLLM chunk format).

    `max_tokens`: the request's; a stream that passes the endless guard for it (see
    ENDLESS_EVENTS_PER_TOKEN) is cut off as overlong_output. Nothing else is judged here.
    """

    def __init__(self, max_tokens: int | None = None, audio: AudioChunks | None = None) -> None:
        # (most output events, most output characters, most audio chunks) before the stream is endless; None: no guard
        self.endless_limits: tuple[int, int, int] | None = None
        if max_tokens is not None:
            self.endless_limits = (
                max_tokens * ENDLESS_EVENTS_PER_TOKEN + ENDLESS_EVENTS_SLACK,
                max_tokens * MAX_CHARS_PER_TOKEN + ENDLESS_CHARS_SLACK,
                max_tokens * ENDLESS_AUDIO_CHUNKS_PER_TOKEN + ENDLESS_AUDIO_CHUNKS_SLACK,
            )
        self.output_chars = 0
        self.output_times_s: list[float] = []  # arrival of each event carrying output
        self.output_texts: list[str] = []  # that event's output text (content, reasoning, tool args)
        self.content_texts: list[str] = []  # the answer's content alone (a conversation's next turn resends it)
        self.first_content_s: float | None = None  # first non-reasoning output (TTFOT)
        self.last_event_s: float | None = None  # last event before [DONE] (normally usage)
        self.done = False  # [DONE] seen
        self.finish_reason: str | None = None
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.cached_tokens: int | None = None  # usage.prompt_tokens_details.cached_tokens, when the server says
        self.failure: tuple[str, str] | None = None  # first (reason, message) the stream showed
        self.must_end = False  # stop reading: the stream cannot become a success any more
        # a spoken answer's chunks (delta.audio.data, or vLLM-Omni's "modality": "audio" chunks)
        self.audio = audio if audio is not None else AudioChunks()
        self.audio_finish_reason: str | None = None  # vLLM-Omni marks every audio chunk "stop"

    def on_event(self, event: SseEvent) -> None:
        if event.data == DONE_DATA:
            self.done = True
            return
        self.last_event_s = event.arrived_s
        try:
            chunk = orjson.loads(event.data)
        except ValueError:
            self._fail(wire.MALFORMED_EVENT, f"not JSON: {event.data[:100]!r}")
            return
        if not isinstance(chunk, dict):
            self._fail(wire.MALFORMED_EVENT, f"not a JSON object: {event.data[:100]!r}")
            return
        if "error" in chunk or chunk.get("object") == "error":
            self._fail(wire.SERVER_ERROR_EVENT, error_message(chunk))
            return
        try:
            choices = chunk.get("choices") or []
            if not isinstance(choices, list):
                raise TypeError(f"choices is a {type(choices).__name__}, not a list")
            if chunk.get("modality") == "audio":  # vLLM-Omni: its usage here counts no tokens; the last chunk's does
                for choice in choices:
                    self._on_audio_choice(choice, event.arrived_s)
                self._guard()
                return
            usage = chunk.get("usage")
            if usage:
                self.prompt_tokens, self.completion_tokens = usage_counts(usage)
                self.cached_tokens = cached_tokens(usage)
            for choice in choices:
                self._on_choice(choice, event.arrived_s)
        except AudioChunkError as exc:
            self._fail(wire.MALFORMED_EVENT, f"{exc}: {event.data[:100]!r}")
            return
        except (AttributeError, TypeError, ValueError) as exc:  # a chunk of the wrong shape
            self._fail(wire.MALFORMED_EVENT, f"unexpected chunk shape ({exc}): {event.data[:100]!r}")
            return
        self._guard()

    def _guard(self) -> None:
        """End a clearly endless stream: more output or audio events, or output text, than the asked tokens allow."""
        limits = self.endless_limits
        if limits is None:
            return
        events, chunks = len(self.output_times_s), len(self.audio.arrivals_s)
        if events > limits[0] or chunks > limits[2] or self.output_chars > limits[1]:
            self._fail(
                wire.OVERLONG_OUTPUT,
                f"an endless stream, cut off: {events} output events, {chunks} audio chunks, {self.output_chars} "
                f"characters (limits {limits[0]}, {limits[2]}, {limits[1]})",
            )
            self.must_end = True

    def _on_choice(self, choice: dict[str, Any], arrived_s: float) -> None:
        delta = choice.get("delta") or {}
        if not isinstance(delta, dict):
            raise TypeError(f"delta is a {type(delta).__name__}, not an object")
        content = delta.get("content") or ""
        audio = delta.get("audio")
        if audio is not None:  # OpenAI: the spoken answer's data, and its transcript as the answer's text
            if not isinstance(audio, dict):
                raise TypeError(f"delta.audio is a {type(audio).__name__}, not an object")
            if audio.get("data"):
                self.audio.add(audio["data"], arrived_s)
            content += audio.get("transcript") or ""
        reasoning = ""
        for field in REASONING_FIELDS:
            reasoning += delta.get(field) or ""
        tool_text = "".join(
            (call.get("function") or {}).get("arguments") or "" for call in delta.get("tool_calls") or ()
        )
        if content or reasoning or tool_text or delta.get("tool_calls"):
            text = reasoning + content + tool_text
            self.output_times_s.append(arrived_s)
            self.output_texts.append(text)
            self.output_chars += len(text)
            if content:
                self.content_texts.append(content)
            if (content or tool_text) and self.first_content_s is None:
                self.first_content_s = arrived_s
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]

    def _on_audio_choice(self, choice: dict[str, Any], arrived_s: float) -> None:
        """A vLLM-Omni audio chunk: its delta.content is a base64 WAV file."""
        delta = choice.get("delta") or {}
        if not isinstance(delta, dict):
            raise TypeError(f"delta is a {type(delta).__name__}, not an object")
        if delta.get("content"):
            self.audio.add(delta["content"], arrived_s)
        if choice.get("finish_reason"):
            self.audio_finish_reason = choice["finish_reason"]

    def _fail(self, reason: str, message: str) -> None:
        if self.failure is None:
            self.failure = (reason, message[:MAX_MESSAGE_CHARS])

    def end_failure(self) -> tuple[str, str] | None:
        """The failure the stream ended with, if any: its own, or a missing end.

        Called once the HTTP response ended normally. `data: [DONE]` is optional (real
        servers omit it); a finish_reason is not.
        """
        if self.failure is not None:
            return self.failure
        if self.finish_reason is None and self.audio_finish_reason is None:
            return (wire.STREAM_TRUNCATED, "the stream ended without a finish_reason")
        return None


def parse_completion(body: bytes) -> tuple[str, str, str | None, int | None, int | None, int | None]:
    """A non-streamed completion: (output text, its content alone, finish_reason, prompt_tokens,
    completion_tokens, cached_tokens).

    Raises ValueError when the body is not a chat completion.
    """
    completion = safejson.loads(body)
    if not isinstance(completion, dict) or not isinstance(completion.get("choices"), list):
        raise ValueError(f"not a chat completion: {body[:100]!r}")
    text, content, finish_reason = "", "", None
    try:
        for choice in completion["choices"]:
            message = choice.get("message") or {}
            for field in (*REASONING_FIELDS, "content"):
                text += message.get(field) or ""
            content += message.get("content") or ""
            finish_reason = choice.get("finish_reason") or finish_reason
        usage = completion.get("usage") or None
        return text, content, finish_reason, *usage_counts(usage), cached_tokens(usage)
    except (AttributeError, TypeError) as exc:
        raise ValueError(f"unexpected completion shape ({exc}): {body[:100]!r}") from None
