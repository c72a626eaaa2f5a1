"""A one-shot raw-socket HTTP server that answers with scripted bytes, for framing tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

ACCEPT_DEADLINE_S = 10.0
REPEAT_DEADLINE_S = 30.0  # an endless answer stops by itself after this long
SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"


@contextmanager
def scripted_server(script: list[tuple[float, bytes]], repeat: tuple[float, bytes] | None = None) -> Iterator[str]:
    """Serve one request: after reading it, wait each delay (s) and write its bytes.

    Yields the base URL. The writes are separated in time so that they reach the client
    as separate reads. Then `repeat` (delay, bytes), if given, is written again and again
    until the client hangs up (at most REPEAT_DEADLINE_S). The connection closes after.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(ACCEPT_DEADLINE_S)
    port = listener.getsockname()[1]

    def serve() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
            while len(body) < length:
                body += connection.recv(65536)
            try:
                for delay_s, data in script:
                    time.sleep(delay_s)
                    connection.sendall(data)
                deadline = time.monotonic() + REPEAT_DEADLINE_S
                while repeat is not None and time.monotonic() < deadline:
                    time.sleep(repeat[0])
                    connection.sendall(repeat[1])
            except OSError:
                pass  # the client hung up

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        listener.close()
        thread.join(timeout=1)
