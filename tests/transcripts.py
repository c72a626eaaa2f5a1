"""Replay real servers' raw HTTP bytes (tests/transcripts/) from a raw-socket server, chunk boundaries as captured."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import AbstractContextManager as ContextManager
from pathlib import Path

from rawserver import read_request, serving

TRANSCRIPTS = Path(__file__).parent / "transcripts" / "transformers-serve-5.17"
CHUNK_GAP_S = 0.002  # between captured chunks, so each reaches the client as its own read
NOT_FOUND = "tokenize_404.http"
ACCEPT_POLL_S = 0.2


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


def transcript_server(routes: dict[str, str]) -> ContextManager[str]:
    """Answer each request with the transcript its path routes to (else the captured 404); yields the base URL.

    Keeps connections alive as the real server does; stops when the test ends.
    """

    def answer(connection: socket.socket) -> None:
        buffer = b""
        with connection:
            while (request := read_request(connection, buffer)) is not None:
                path, buffer = request
                for index, piece in enumerate(pieces(routes.get(path, NOT_FOUND))):
                    if index:
                        time.sleep(CHUNK_GAP_S)
                    connection.sendall(piece)

    def serve(listener: socket.socket) -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was closed: the test is over
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    return serving(serve, accept_timeout_s=ACCEPT_POLL_S)
