"""A hostile OpenAI-compatible server: markup, terminal escapes, wrong types and deep JSON
in every field it controls, over real HTTP streaming (for tests/test_security.py).

It answers enough like vLLM (a /version, vllm: metrics, SSE chunks with a finish_reason
and usage) that omniload runs its whole path against it: profile detection, the checks
before load, a sweep, the server scrape and the OmniBench pass. Requests cycle through
the kinds in STREAM_KINDS and ANSWER_KINDS so every run sees each. `endless=True` makes
every answer a stream that never ends (it stops when the client hangs up, or after
ENDLESS_DEADLINE_S).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Script that would run if shown unescaped, and escapes that would act in a terminal.
MARKUP = "<img src=x onerror=alert(1)><script>alert(2)</script>\"'><svg onload=alert(3)>"
TERMINAL = "\x1b]0;pwned\x07\x1b[2J\romniload: all good"
HOSTILE = MARKUP + TERMINAL
DEEP = "[" * 5000 + "]" * 5000  # deeper than any parser's recursion
ENDLESS_DEADLINE_S = 60.0
STREAM_KINDS = ("ok", "usage_text", "http_500", "error_event", "content_number", "deep_error")
ANSWER_KINDS = ("ok", "usage_text", "content_number", "content_list", "deep")
METRICS = f"""# HELP vllm:num_requests_running {HOSTILE}
vllm:num_requests_running{{model_name="{MARKUP.replace('"', "'")}"}} 1
vllm:num_requests_waiting +Inf
vllm:kv_cache_usage_perc NaN
{MARKUP} 12 garbage
vllm:time_to_first_token_seconds_bucket{{le="<b>"}} 3
"""


def _sse(chunk: Any) -> bytes:
    return b"data: " + (chunk if isinstance(chunk, bytes) else json.dumps(chunk).encode()) + b"\n\n"


class Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _json(self, status: int, body: Any) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _endless(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()  # no length, no chunking: the body ends when the connection does
        deadline = time.monotonic() + ENDLESS_DEADLINE_S
        try:
            while time.monotonic() < deadline:
                self.wfile.write(_sse({"choices": [{"delta": {"content": "x"}}]}))
                self.wfile.flush()
                time.sleep(0.01)
        except OSError:
            pass  # the client hung up
        self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802
        if self.server.endless:
            return self._endless()
        if self.path == "/version":
            return self._json(200, {"version": HOSTILE})
        if self.path == "/metrics":
            data = METRICS.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None
        if self.path == "/v1/models":
            return self._json(200, {"data": [{"id": HOSTILE}]})
        return self._json(404, {"detail": HOSTILE})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        if self.server.endless:
            return self._endless()
        if self.path == "/tokenize":
            return self._json(200, {"count": HOSTILE, "max_model_len": HOSTILE, "tokens": DEEP})
        if not body.get("stream"):
            return self._answer(next(self.server.answer_kinds))
        kind = "ok" if self.headers.get("X-Request-Id", "").startswith("preflight-") else next(self.server.stream_kinds)
        if kind == "http_500":
            return self._json(500, {"error": {"message": HOSTILE, "type": MARKUP}})
        if kind == "deep_error":
            return self._json(400, DEEP.encode())
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in self._events(kind, int(body.get("max_tokens") or 1)):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def _events(self, kind: str, tokens: int) -> Iterator[bytes]:
        yield _sse({"choices": [{"delta": {"role": "assistant", "content": ""}}]})
        if kind == "error_event":
            yield _sse({"error": {"message": HOSTILE, "code": MARKUP}})
            return
        for index in range(tokens):
            content: Any = 7 if kind == "content_number" else f"{HOSTILE} {index}"
            yield _sse({"choices": [{"delta": {"content": content}, "finish_reason": None}]})
        usage: Any = {"prompt_tokens": 40, "completion_tokens": tokens}
        if kind == "usage_text":
            usage = {"prompt_tokens": MARKUP, "completion_tokens": MARKUP}
        yield _sse({"choices": [{"delta": {}, "finish_reason": "length"}], "usage": usage})

    def _answer(self, kind: str) -> None:
        if kind == "deep":
            return self._json(200, DEEP.encode())
        content: Any = {"content_number": 42, "content_list": [MARKUP]}.get(kind, f"{HOSTILE} The answer is A.")
        usage: Any = (
            {"prompt_tokens": MARKUP, "completion_tokens": MARKUP}
            if kind == "usage_text"
            else {"prompt_tokens": 10, "completion_tokens": 5}
        )
        return self._json(
            200,
            {
                "choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": usage,
            },
        )


@contextmanager
def hostile_server(endless: bool = False) -> Iterator[str]:
    """Serve on a free loopback port in a thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    server.endless = endless
    server.stream_kinds = itertools.cycle(STREAM_KINDS)
    server.answer_kinds = itertools.cycle(ANSWER_KINDS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
