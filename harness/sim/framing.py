"""Bytes of vLLM's chat-completion stream and non-stream bodies.

A stream is: a role-only event (`delta: {"role": "assistant", "content": ""}`), content
deltas, the last delta carrying `finish_reason`, a usage-only event with `choices: []`
when `stream_options.include_usage` is set, then `data: [DONE]`. Each event is
`data: <json>\\n\\n`. The constant prefix of every delta event is built once per request.
"""

from __future__ import annotations

import json
import time
from json.encoder import encode_basestring_ascii
from typing import Any

DONE_EVENT = b"data: [DONE]\n\n"


class StreamFramer:
    """Builds the events of one streamed response.

    A spoken answer (harness/sim/talker.py) changes the text events: `modality` marks each one
    `"modality": "text"` (vLLM-Omni); `transcript` sends the text as `delta.audio.transcript` (OpenAI).
    """

    def __init__(
        self,
        completion_id: str,
        model: str,
        created_s: int | None = None,
        modality: bool = False,
        transcript: bool = False,
    ) -> None:
        self.completion_id = completion_id
        self.model = model
        self.created_s = created_s if created_s is not None else int(time.time())
        self.head = (
            f'data: {{"id":{json.dumps(completion_id)},"object":"chat.completion.chunk",'
            f'"created":{self.created_s},"model":{json.dumps(model)},"choices":'
        ).encode()
        self._head = self.head
        self.transcript = transcript
        self._end = b',"modality":"text"}\n\n' if modality else b"}\n\n"
        if transcript:
            self._content_head = self._head + b'[{"index":0,"delta":{"audio":{"transcript":'
            self._tail = b'}},"logprobs":null,"finish_reason":null}]' + self._end
        else:
            self._content_head = self._head + b'[{"index":0,"delta":{"content":'
            self._tail = b'},"logprobs":null,"finish_reason":null}]' + self._end
        self._reasoning_head = self._head + b'[{"index":0,"delta":{"reasoning_content":'
        self._reasoning_tail = b'},"logprobs":null,"finish_reason":null}]' + self._end

    def role_event(self) -> bytes:
        return self._choice_event({"role": "assistant", "content": ""}, None)

    def delta_event(
        self,
        text: str,
        finish_reason: str | None,
        reasoning: bool = False,
        usage_tokens: tuple[int, int, int | None] | None = None,
    ) -> bytes:
        """One output event; the last (with finish_reason) may carry usage (prompt, completion tokens)."""
        if finish_reason is not None:
            delta: dict[str, Any] = {"reasoning_content": text} if reasoning else self._text_delta(text)
            return self._choice_event(delta, finish_reason, usage_tokens)
        # The hot path (one call per streamed event): byte concatenation, no json.dumps.
        if reasoning:
            return self._reasoning_head + encode_basestring_ascii(text).encode() + self._reasoning_tail
        return self._content_head + encode_basestring_ascii(text).encode() + self._tail

    def _text_delta(self, text: str) -> dict[str, Any]:
        return {"audio": {"transcript": text}} if self.transcript else {"content": text}

    def usage_event(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int | None = None) -> bytes:
        return self._head + b'[],"usage":' + _usage_json(prompt_tokens, completion_tokens, cached_tokens) + b"}\n\n"

    def malformed_event(self) -> bytes:
        """An event whose JSON is cut off mid-object."""
        return self._head + b'[{"index":0,"delta":{"content":"\n\n'

    def _choice_event(
        self, delta: dict[str, Any], finish_reason: str | None, usage_tokens: tuple[int, int, int | None] | None = None
    ) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        if finish_reason is not None:
            choice["stop_reason"] = None
        tail = b"" if usage_tokens is None else b',"usage":' + _usage_json(*usage_tokens)
        return self._head + json.dumps([choice], separators=(",", ":")).encode() + tail + self._end


def _usage_json(prompt_tokens: int, completion_tokens: int, cached_tokens: int | None = None) -> bytes:
    return json.dumps(usage(prompt_tokens, completion_tokens, cached_tokens), separators=(",", ":")).encode()


def usage(prompt_tokens: int, completion_tokens: int, cached_tokens: int | None = None) -> dict[str, Any]:
    """vLLM's UsageInfo; `prompt_tokens_details` only when cached tokens are reported and above 0 (vLLM's
    serving_chat.py: `if self.enable_prompt_tokens_details and num_cached_tokens`)."""
    fields: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
    }
    if cached_tokens:
        fields["prompt_tokens_details"] = {"cached_tokens": cached_tokens}
    return fields


def error_event(error: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(error, separators=(",", ":")).encode() + b"\n\n"


def completion_body(
    completion_id: str,
    model: str,
    text: str,
    reasoning_text: str | None,
    finish_reason: str,
    prompt_tokens: int,
    completion_tokens: int,
    cached_tokens: int | None = None,
) -> dict[str, Any]:
    """A non-streamed chat.completion object."""
    message: dict[str, Any] = {"role": "assistant", "content": text, "tool_calls": []}
    if reasoning_text is not None:
        message["reasoning_content"] = reasoning_text
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason, "stop_reason": None}
        ],
        "usage": usage(prompt_tokens, completion_tokens, cached_tokens),
        "prompt_logprobs": None,
    }
