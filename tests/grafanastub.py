"""A local HTTP stand-in for Grafana's API that records every call (no Grafana server can run here)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    method: str
    path: str
    authorization: str | None
    body: Any


@dataclass
class GrafanaStub:
    url: str
    calls: list[Call] = field(default_factory=list)
    datasource_exists: bool = False


@contextmanager
def grafana_stub() -> Iterator[GrafanaStub]:
    stub = GrafanaStub("")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            stub.calls.append(Call(self.command, self.path, self.headers.get("Authorization"), body))
            status, reply = 200, {"message": "ok", "id": len(stub.calls)}
            if self.command == "GET" and self.path == "/api/datasources/uid/prometheus" and not stub.datasource_exists:
                status, reply = 404, {"message": "Data source not found"}
            if self.command == "POST" and self.path == "/api/datasources":
                stub.datasource_exists = True
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
