"""One bounded HTTP exchange, for every request outside the load (checks before it, OmniBench).

urllib3's timeouts bound each socket operation, not the exchange: a server that keeps
sending (an endless stream, a body that never ends) holds `response.data` forever and
fills memory. Here the body is read piece by piece (`read1`: what has arrived, not a
fixed amount) under a deadline for the whole exchange and a cap on its bytes; passing
either is a FetchError that says which.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import urllib3

MAX_BODY_BYTES = 16 * 1024 * 1024  # a vLLM /metrics page is about 1 MB; an answer far less
READ_PIECE_BYTES = 65536


class FetchError(Exception):
    """The exchange failed: no connection, a timeout, or an answer past its time or size bound."""


class Unbounded(FetchError):
    """The server kept sending past the exchange's time or size bound (an endless answer)."""


@dataclass(frozen=True)
class Bounds:
    """Seconds to connect, to wait for any byte, and for the whole exchange; most body bytes."""

    connect_s: float
    read_s: float
    total_s: float
    max_bytes: int = MAX_BODY_BYTES

    @staticmethod
    def of(connect_s: float, read_s: float, total_s: float, cap_s: float | None = None) -> Bounds:
        """A run's timeouts for a check before load: the whole exchange within connect + read (and total, and cap)."""
        whole_s = min(connect_s + read_s, total_s, cap_s if cap_s is not None else total_s)
        return Bounds(min(connect_s, whole_s), min(read_s, whole_s), whole_s)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


def fetch(
    method: str,
    url: str,
    bounds: Bounds,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    pool: urllib3.PoolManager | None = None,
) -> Answer:
    """Send one request and read its whole answer within `bounds` (FetchError otherwise).

    `pool` reuses connections (the OmniBench pass); without it the exchange has its own.
    """
    if pool is None:
        with urllib3.PoolManager(retries=False) as own:
            return fetch(method, url, bounds, headers, body, own)
    deadline_s = time.monotonic() + bounds.total_s
    timeout = urllib3.Timeout(connect=bounds.connect_s, read=bounds.read_s)
    try:
        response = pool.request(
            method,
            url,
            body=body,
            headers=headers,
            preload_content=False,
            redirect=False,
            retries=False,
            timeout=timeout,
        )
    except urllib3.exceptions.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}"[:300]) from None
    try:
        return Answer(response.status, _read_bounded(response, deadline_s, bounds))
    finally:
        response.close()


def _read_bounded(response: urllib3.BaseHTTPResponse, deadline_s: float, bounds: Bounds) -> bytes:
    pieces: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline_s:
            raise Unbounded(f"the answer did not end within {bounds.total_s:g} s ({size} bytes so far)")
        try:
            piece = response.read1(READ_PIECE_BYTES)
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError(type(exc).__name__) from None
        if not piece:
            return b"".join(pieces)
        size += len(piece)
        if size > bounds.max_bytes:
            raise Unbounded(f"the answer is longer than {bounds.max_bytes} bytes")
        pieces.append(piece)
