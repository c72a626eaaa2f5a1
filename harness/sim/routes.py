"""The simulator's routes other than chat completions: /v1/models, /health, /version, /metrics, /tokenize.

Each answers as vLLM's OpenAI server does (vllm/entrypoints/openai/api_server.py): the
model card with its max_model_len, an empty 200 for health, the version string, the
Prometheus page, and /tokenize's count, max_model_len and tokens.
"""

from __future__ import annotations

import json
import time

from aiohttp import web

from harness.sim.config import SimConfig
from harness.sim.errors import SimRequestError, error_response
from harness.sim.metrics import SimMetrics
from harness.sim.parsing import render_text
from harness.sim.request import parse_chat_request
from harness.tokenizer import ChatRenderer, Tokenizer

SIMULATED_VLLM_VERSION = "0.11.0"  # what /version answers (omniload detects vLLM by it)


class PlainRoutes:
    """The plain endpoints, reading the simulator's config, metrics and tokenizer."""

    def __init__(self, config: SimConfig, metrics: SimMetrics, tokenizer: Tokenizer, renderer: ChatRenderer) -> None:
        self.config = config
        self.metrics = metrics
        self.tokenizer = tokenizer
        self.renderer = renderer

    def add_to(self, app: web.Application) -> None:
        """Register what this compat mode serves (a plain OpenAI server, or a /v1-only gateway, hides the rest)."""
        app.router.add_get("/v1/models", self.models)
        if self.config.compat != "gateway":
            app.router.add_get("/health", self.health)
        if self.config.compat == "vllm":
            app.router.add_post("/tokenize", self.tokenize)
            app.router.add_get("/metrics", self.metrics_page)
            app.router.add_get("/version", self.version)

    async def health(self, _request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def version(self, _request: web.Request) -> web.Response:
        return web.json_response({"version": SIMULATED_VLLM_VERSION})

    async def metrics_page(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(), content_type="text/plain", charset="utf-8")

    async def models(self, _request: web.Request) -> web.Response:
        created_s = int(time.time())
        card = {
            "id": self.config.model,
            "object": "model",
            "created": created_s,
            "owned_by": "vllm",
            "root": self.config.model,
            "parent": None,
            "max_model_len": self.config.max_model_len,
        }
        return web.json_response({"object": "list", "data": [card]})

    async def tokenize(self, request: web.Request) -> web.Response:
        """vLLM's /tokenize: `prompt` or `messages` in; `count`, `max_model_len`, `tokens` out.

        For messages only the text is tokenized (media placeholders are not expanded).
        """
        try:
            payload = json.loads(await request.read())
            if not isinstance(payload, dict):
                raise SimRequestError(400, "Request body must be a JSON object")
            if "messages" in payload:
                chat = parse_chat_request(json.dumps({"messages": payload["messages"]}).encode(), (self.config.model,))
                text = render_text(self.renderer, chat)
            elif isinstance(payload.get("prompt"), str):
                text = payload["prompt"]
            else:
                raise SimRequestError(400, "Either prompt or messages must be given", "prompt")
        except ValueError as exc:
            return error_response(400, f"JSON decode error: {exc}")
        except SimRequestError as exc:
            return error_response(exc.status, exc.message, exc.param)
        token_ids = self.tokenizer.backend_tokenizer.encode(text, add_special_tokens=False).ids
        return web.json_response(
            {
                "count": len(token_ids),
                "max_model_len": self.config.max_model_len,
                "tokens": token_ids,
                "token_strs": None,
            }
        )
