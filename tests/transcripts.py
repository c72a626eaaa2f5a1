"""Replay real servers' raw HTTP bytes (tests/transcripts/) from a raw-socket server, chunk boundaries as captured."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TRANSCRIPTS = Path(__file__).parent / "transcripts" / "transformers-serve-5.17"
CHUNK_GAP_S = 0.002  # between captured chunks, so each reaches the client as its own read
NOT_FOUND = "tokenize_404.http"


def pieces(name: str) -> list[bytes]:
    """The transcript's bytes as sent: the head (with any Content-Length body), then each chunk whole."""
    raw = (TRANSCRIPTS / name).read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" not in head.lower():
        return [raw]
    parts = [head + b"\r\n\r\n"]
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        end = len(size_line) + 2 + size + 2
        parts.append(body[:end])
        body = body[end:]
        if size == 0:
            break
    return parts


def _read_request(connection: socket.socket, buffer: bytes) -> tuple[str, bytes] | None:
    """The next request's path, and what was read past it; None when the client closed."""
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


@contextmanager
def transcript_server(routes: dict[str, str]) -> Iterator[str]:
    """Answer each request with the transcript its path routes to (else the captured 404); yields the base URL.

    Keeps connections alive as the real server does; stops when the test ends.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    stopping = threading.Event()

    def serve(connection: socket.socket) -> None:
        buffer = b""
        with connection:
            while not stopping.is_set():
                request = _read_request(connection, buffer)
                if request is None:
                    return
                path, buffer = request
                for index, piece in enumerate(pieces(routes.get(path, NOT_FOUND))):
                    if index:
                        time.sleep(CHUNK_GAP_S)
                    connection.sendall(piece)

    def accept() -> None:
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stopping.set()
        listener.close()
        thread.join(timeout=2)
