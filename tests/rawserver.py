"""A one-shot raw-socket HTTP server that answers with scripted bytes, for framing tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from contextlib import contextmanager

ACCEPT_DEADLINE_S = 10.0
REPEAT_DEADLINE_S = 30.0  # an endless answer stops by itself after this long
SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"


@contextmanager
def serving(serve: Callable[[socket.socket], None], accept_timeout_s: float = ACCEPT_DEADLINE_S) -> Iterator[str]:
    """Run `serve(listener)` in a thread on a fresh loopback port; yields the base URL, closes after."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(accept_timeout_s)
    thread = threading.Thread(target=serve, args=(listener,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        thread.join(timeout=2)


def read_request(connection: socket.socket, buffer: bytes = b"") -> tuple[str, bytes] | None:
    """The next request's path (its body read and dropped), and what was read past it; None at EOF."""
    while b"\r\n\r\n" not in buffer:
        data = connection.recv(65536)
        if not data:
            return None
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next((int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length")), 0)
    while len(rest) < length:
        data = connection.recv(65536)
        if not data:
            return None
        rest += data
    return lines[0].split()[1].decode(), rest[length:]


def scripted_server(
    script: list[tuple[float, bytes]],
    repeat: tuple[float, bytes] | None = None,
    wrap: Callable[[socket.socket], socket.socket] | None = None,
) -> ContextManager[str]:
    """Serve one request: after reading it, wait each delay (s) and write its bytes.

    Yields the base URL. The writes are separated in time so that they reach the client
    as separate reads. Then `repeat` (delay, bytes), if given, is written again and again
    until the client hangs up (at most REPEAT_DEADLINE_S). The connection closes after.
    `wrap` (e.g. a TLS context's wrap_socket) is applied to the accepted connection.
    """

    def serve(listener: socket.socket) -> None:
        try:
            connection, _ = listener.accept()
            if wrap is not None:
                connection = wrap(connection)
        except OSError:
            return
        with connection:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if read_request(connection) is None:
                return
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

    return serving(serve)
