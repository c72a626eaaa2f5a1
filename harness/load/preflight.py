"""Checks against the server before load: reachable, lengths that fit, a prompt counted as the server counts it."""

from __future__ import annotations

import json
import logging
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import urllib3

from harness.argparsing import BadOption
from harness.endpoint import Endpoint

if TYPE_CHECKING:
    from harness.options import PayloadSpec

logger = logging.getLogger(__name__)

TOKENIZE_PATH = "/tokenize"
TOKENIZE_TIMEOUT_S = 10.0


def check_prompt_with_server(endpoint: Endpoint, prompt_text: str, expected_tokens: int) -> dict[str, Any]:
    """Count one prompt with the server's /tokenize (vLLM has it); a mismatch is logged.

    Returns {"expected", "server", "match"}, or {"skipped": why} when the server has no
    /tokenize or cannot be reached (the load itself will say more).
    """
    body = json.dumps({"model": endpoint.model, "messages": [{"role": "user", "content": prompt_text}],
                       "add_generation_prompt": True}).encode()  # fmt: skip
    headers = {"Content-Type": "application/json", **endpoint.auth_headers()}
    try:
        with urllib3.PoolManager(retries=False, timeout=TOKENIZE_TIMEOUT_S) as http:
            response = http.request("POST", endpoint.base_url + TOKENIZE_PATH, body=body, headers=headers)
    except urllib3.exceptions.HTTPError as exc:
        return {"skipped": f"{type(exc).__name__}"}
    if response.status != 200:
        return {"skipped": f"/tokenize answered HTTP {response.status}"}
    try:
        count = int(json.loads(response.data)["count"])
    except (ValueError, KeyError, TypeError):
        return {"skipped": "/tokenize answered without a count"}
    match = count == expected_tokens
    if not match:
        logger.warning("omniload: the server counts %d tokens in a prompt built as %d; is --tokenizer-path "
                       "the served model's tokenizer?", count, expected_tokens)  # fmt: skip
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


def server_max_model_len(endpoint: Endpoint) -> int | None:
    """The server's context window as its /tokenize reports it (vLLM does), or None when it says nothing."""
    body = json.dumps({"model": endpoint.model, "prompt": "x"}).encode()
    headers = {"Content-Type": "application/json", **endpoint.auth_headers()}
    try:
        with urllib3.PoolManager(retries=False, timeout=TOKENIZE_TIMEOUT_S) as http:
            response = http.request("POST", endpoint.base_url + TOKENIZE_PATH, body=body, headers=headers)
        limit = json.loads(response.data)["max_model_len"] if response.status == 200 else None
    except (urllib3.exceptions.HTTPError, ValueError, KeyError, TypeError):
        return None
    return limit if isinstance(limit, int) and limit > 0 else None


def check_lengths_fit(endpoint: Endpoint, payload: PayloadSpec) -> None:
    """Refuse prompts plus outputs longer than the server's max_model_len (before load)."""
    limit = server_max_model_len(endpoint)
    needed = payload.max_prompt_tokens + payload.prefix_tokens + payload.max_tokens
    if limit is not None and needed > limit:
        raise BadOption("--max-prompt-length", f"{payload.max_prompt_tokens} prompt + {payload.prefix_tokens} "
                        f"prefix + {payload.max_tokens} output tokens = {needed}, more than the server's "
                        f"max_model_len {limit} (images add more)")  # fmt: skip
