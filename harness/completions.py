"""What an OpenAI-compatible server answers, read safely: error messages and usage counts.

Shared by the load client (harness/load/) and the OmniBench pass (harness/omnibench/),
which read the same shapes: `{"error": {...}}` bodies (vLLM, OpenAI), FastAPI's
`{"detail": ...}` (transformers serve) and `usage` with integer counts.
"""

from __future__ import annotations

import json
from typing import Any

from harness.visible import visible

# Longest server message kept in a record.
MAX_MESSAGE_CHARS = 500


def usage_counts(usage: Any) -> tuple[int | None, int | None]:
    """(prompt_tokens, completion_tokens) of a usage object: counts, or None where absent.

    ValueError when usage is not an object or a count is not a non-negative integer.
    """
    if usage is None:
        return None, None
    if not isinstance(usage, dict):
        raise ValueError(f"usage is a {type(usage).__name__}, not an object")
    return _token_count(usage, "prompt_tokens"), _token_count(usage, "completion_tokens")


def cached_tokens(usage: Any) -> int | None:
    """usage.prompt_tokens_details.cached_tokens (vLLM with --enable-prompt-tokens-details, OpenAI): a count, or None
    where absent (vLLM leaves the details out when nothing was cached). ValueError on the wrong shape."""
    if not isinstance(usage, dict) or usage.get("prompt_tokens_details") is None:
        return None
    details = usage["prompt_tokens_details"]
    if not isinstance(details, dict):
        raise ValueError(f"usage.prompt_tokens_details is a {type(details).__name__}, not an object")
    return _token_count(details, "cached_tokens")


def _token_count(usage: Any, field: str) -> int | None:
    """A usage count: an int or absent; anything else is the wrong shape (ValueError)."""
    value = usage.get(field)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise ValueError(f"usage.{field} is {value!r}, not a count")
    return value


def error_message(body: Any) -> str:
    """The message of an OpenAI/vLLM error body ({"error": {...}} or {"object": "error", ...}),
    its control characters made visible."""
    return visible(_error_text(body))


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        if isinstance(body.get("detail"), str):  # FastAPI's own errors (422, 404), as transformers serve sends
            return body["detail"][:MAX_MESSAGE_CHARS]
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:MAX_MESSAGE_CHARS]
        if isinstance(error, str):
            return error[:MAX_MESSAGE_CHARS]
    try:
        return json.dumps(body)[:MAX_MESSAGE_CHARS]
    except (ValueError, RecursionError):  # a cycle cannot come from JSON, but depth can
        return f"an error body of type {type(body).__name__}"
