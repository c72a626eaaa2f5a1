"""Checks against the server before load: a prompt's length as the server counts it."""

from __future__ import annotations

import json
import logging
from typing import Any

import urllib3

from harness.endpoint import Endpoint

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
