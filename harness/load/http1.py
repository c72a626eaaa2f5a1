"""A minimal HTTP/1.1 client connection whose reads carry the kernel's arrival time.

Why not urllib3 or requests: their buffered readers cannot say when bytes arrived, only
when Python got to them. With 50 streams, a decode step of a batching server delivers
50 events at once, and the last greenlet to run would stamp its event ~5 ms late. Here
every read is a `recvmsg` on a socket with SO_TIMESTAMPNS, so each read carries the
time the kernel received its last packet, however busy the process is. The last: a
process that falls one ITL behind takes two events in one read and stamps both with the
later arrival, so nothing in a load process may hold the GIL for long (payload refills
run in a child process, harness/load/builder.py). (TLS sockets cannot `recvmsg`; over
https the arrival time is taken when the read returns.)

Only what a chat completions client needs: one request at a time, keep-alive, bodies
framed by chunked encoding, Content-Length or connection close.

Cost per read is the budget of a load generator (one SSE event is one read at a server's
pace): a plain connection reads from the unpatched socket after waiting on one
persistent libev watcher, so a read is one `recvmsg` and one hub switch (gevent's socket
tries first, fails with EAGAIN, then waits: two syscalls, an exception and a fresh wait
per read), and the per-read timeout is one reused gevent Timeout.

Each stamped read also notes how long after the kernel's stamp the process read it
(`READ_DELAYS_S`): the load generator's self-watch (harness/load/health.py) reports its
p99, the one measured way a busy client changes the figures (late reads merge events).
"""

from __future__ import annotations

import gevent
from gevent import Timeout
from gevent.socket import wait_write

import _socket
import socket
import ssl
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from harness import kernelstamp
from harness.load.pacing import run_at, sleep_until

READ_SIZE_BYTES = 65536
READ_DELAY_SAMPLES = 4096  # the most recent reads' delays kept for the self-watch
# Seconds from the kernel's receive stamp to the process's read, per read (all connections of this process).
READ_DELAYS_S: deque[float] = deque(maxlen=READ_DELAY_SAMPLES)
MAX_HEADER_BYTES = 65536
READ_EVENT = 1  # libev's EV_READ


class HttpProtocolError(Exception):
    """The server broke HTTP/1.1 framing (bad status line, bad chunk size, header too big)."""


class ConnectionLost(Exception):
    """The server closed the connection before the response ended."""


class TotalTimeout(TimeoutError):
    """The whole response did not arrive within the request's deadline (--total-timeout)."""


@dataclass
class Response:
    """A response's status and headers once they are in, and the framing of its body."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    complete: bool = False  # the whole body has been read
    keep_alive: bool = True


class ResponseParser:
    """Incremental HTTP/1.1 response parser for one POST: feed bytes, get body bytes back."""

    def __init__(self) -> None:
        self.response = Response()
        self.headers_done = False
        self._buffer = b""
        self._remaining = -1  # body bytes left (Content-Length), or in the current chunk
        self._chunked = False
        self._until_close = False
        self._chunk_state = "size"  # size | data | data_crlf | trailers

    def feed(self, data: bytes) -> bytes:
        """Body bytes (de-chunked) that `data` completes; updates `response` on the way."""
        if self._buffer:
            data = self._buffer + data
            self._buffer = b""
        if not self.headers_done:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                if len(data) > MAX_HEADER_BYTES:
                    raise HttpProtocolError("response headers over 64 KiB")
                self._buffer = data
                return b""
            self._parse_head(data[:end].decode("latin-1"))
            data = data[end + 4 :]
            if self.response.complete:
                return b""
        if self._chunked:
            return self._dechunk(data)
        if self._until_close:
            return data
        body = data[: self._remaining]
        self._remaining -= len(body)
        if self._remaining == 0:
            self.response.complete = True
        return body

    @property
    def started(self) -> bool:
        """Some of the response has arrived."""
        return self.headers_done or bool(self._buffer)

    def feed_eof(self) -> None:
        """The server closed the connection: fine for a close-delimited body only."""
        if self._until_close and self.headers_done:
            self.response.complete = True
            self.response.keep_alive = False
            return
        raise ConnectionLost("connection closed before the response ended")

    def _parse_head(self, head: str) -> None:
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HttpProtocolError(f"bad status line {lines[0][:80]!r}")
        response = self.response
        response.status = int(parts[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            response.headers[name.strip().lower()] = value.strip()
        self.headers_done = True
        connection = response.headers.get("connection", "").lower()
        response.keep_alive = parts[0] == "HTTP/1.1" and "close" not in connection
        if response.status in (204, 304) or 100 <= response.status < 200:
            response.complete = True
        elif "chunked" in response.headers.get("transfer-encoding", "").lower():
            self._chunked = True
        elif "content-length" in response.headers:
            try:
                self._remaining = int(response.headers["content-length"])
            except ValueError:
                raise HttpProtocolError("bad Content-Length") from None
            response.complete = self._remaining == 0
        else:
            self._until_close = True
            response.keep_alive = False

    def _dechunk(self, data: bytes) -> bytes:
        body = []
        position = 0
        while position < len(data) and not self.response.complete:
            if self._chunk_state == "data":
                piece = data[position : position + self._remaining]
                body.append(piece)
                position += len(piece)
                self._remaining -= len(piece)
                if self._remaining == 0:
                    self._chunk_state = "data_crlf"
                continue
            end = data.find(b"\r\n", position)
            if end < 0:
                self._buffer = data[position:]
                break
            line = data[position:end]
            position = end + 2
            if self._chunk_state == "size":
                try:
                    self._remaining = int(line.split(b";", 1)[0], 16)
                except ValueError:
                    raise HttpProtocolError(f"bad chunk size {line[:40]!r}") from None
                self._chunk_state = "data" if self._remaining else "trailers"
            elif self._chunk_state == "data_crlf":
                if line:
                    raise HttpProtocolError("chunk data longer than its size")
                self._chunk_state = "size"
            elif not line:  # trailers end with an empty line
                self.response.complete = True
        return b"".join(body)


class HttpConnection:
    """One keep-alive connection to a server; reconnects when the last one ended.

    Plain connections hold an unpatched non-blocking socket and a libev read watcher;
    TLS connections hold gevent's SSL socket (TLS cannot `recvmsg`).
    """

    def __init__(self, host: str, port: int, tls: bool, connect_timeout_s: float, read_timeout_s: float) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self._socket: _socket.socket | None = None  # plain
        self._tls_socket: ssl.SSLSocket | None = None
        self._watcher: Any = None  # readable events of _socket
        self.reused = False  # the last request went over a connection used before
        self.written = False  # the last request was written whole

    @property
    def is_open(self) -> bool:
        return self._socket is not None or self._tls_socket is not None

    def send(self, head: bytes, body: bytes, due_s: float | None = None) -> float:
        """Write a request (head, then body: no copy of the body); returns t_send.

        t_send is unix seconds, taken after connecting and just before the first byte is
        written. With `due_s` (a rate stage's schedule, unix s) the first bytes go out
        then, written from a native thread (harness/load/pacing.py).
        """
        self.reused = self.is_open
        self.written = False
        if not self.is_open:
            self._connect()
        if self._tls_socket is not None:  # gevent's SSL socket: written from this greenlet only
            if due_s is not None:
                sleep_until(due_s)
            t_send = time.time()
            self._tls_socket.sendall(head)
            self._tls_socket.sendall(body)
        else:
            sock = self._socket
            assert sock is not None
            first_write = partial(_stamp_and_write, sock, head, body)
            t_send, written_bytes = first_write() if due_s is None else run_at(due_s, first_write)
            if written_bytes < len(head):
                self._send_all(memoryview(head)[written_bytes:])
                written_bytes = len(head)
            self._send_all(memoryview(body)[written_bytes - len(head) :])
        self.written = True
        return t_send

    def connect_ahead(self) -> None:
        """Connect now unless connected: the request's send then starts with its first byte."""
        if not self.is_open:
            self._connect()

    def _send_all(self, data: bytes | memoryview) -> None:
        sock = self._socket
        assert sock is not None
        view = memoryview(data)
        while view:
            try:
                view = view[sock.send(view) :]
            except BlockingIOError:
                wait_write(sock.fileno(), self.read_timeout_s, TimeoutError("timed out writing the request"))

    def reads(self, deadline_s: float) -> Iterator[tuple[bytes, float]]:
        """Bytes as they arrive, each with the unix time the kernel received them; b"" at EOF.

        Each read waits at most --read-timeout, and none goes past deadline_s (a
        time.monotonic() reading): then TotalTimeout.
        """
        if self._tls_socket is not None:
            yield from self._tls_reads(self._tls_socket, deadline_s)
            return
        sock, watcher = self._socket, self._watcher
        assert sock is not None and watcher is not None, "send() first"
        hub = gevent.get_hub()
        read_timeout_s = self.read_timeout_s
        timeout = Timeout(read_timeout_s, TimeoutError("timed out"))
        try:
            while True:
                # Wait, then read: a read that would block costs a syscall and an exception.
                left_s = deadline_s - time.monotonic()
                if left_s <= 0:
                    raise TotalTimeout("no whole response within --total-timeout")
                if left_s < read_timeout_s:  # the last wait ends at the deadline
                    timeout.close()
                    timeout = Timeout(left_s, TotalTimeout("no whole response within --total-timeout"))
                    read_timeout_s = left_s
                timeout.start()
                try:
                    hub.wait(watcher)
                finally:
                    timeout.cancel()  # reused for the next wait
                while True:  # until the socket is drained
                    try:
                        data, ancillary, _flags, _address = sock.recvmsg(
                            READ_SIZE_BYTES, kernelstamp.ANCILLARY_SIZE_BYTES
                        )
                    except BlockingIOError:
                        break
                    arrived_s = kernelstamp.stamp_s(ancillary)
                    if arrived_s is None:
                        arrived_s = time.time()
                    else:
                        READ_DELAYS_S.append(time.time() - arrived_s)
                    yield data, arrived_s
                    if not data:
                        return
                    if len(data) < READ_SIZE_BYTES:  # most likely all there was: wait before reading again
                        break
        finally:
            timeout.close()

    def _tls_reads(self, sock: ssl.SSLSocket, deadline_s: float) -> Iterator[tuple[bytes, float]]:
        while True:
            left_s = deadline_s - time.monotonic()
            if left_s <= 0:
                raise TotalTimeout("no whole response within --total-timeout")
            sock.settimeout(min(self.read_timeout_s, left_s))
            data = sock.recv(READ_SIZE_BYTES)
            yield data, time.time()
            if not data:
                return

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        for sock in (self._socket, self._tls_socket):
            if sock is not None:
                sock.close()
        self._socket = self._tls_socket = None

    def _connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            self._tls_socket = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
            return
        kernelstamp.enable(sock)
        raw = _socket.socket(fileno=sock.detach())  # gevent's socket connected it cooperatively
        raw.setblocking(False)
        self._socket = raw
        self._watcher = gevent.get_hub().loop.io(raw.fileno(), READ_EVENT)


def _stamp_and_write(sock: _socket.socket, head: bytes, body: bytes) -> tuple[float, int]:
    """(unix time just before the write, bytes the kernel took): one non-blocking sendmsg of head and body."""
    t_send = time.time()
    try:
        return t_send, sock.sendmsg([head, body])
    except BlockingIOError:
        return t_send, 0


def request_head(method: str, target: str, host_header: str, headers: dict[str, str], body_bytes: int) -> bytes:
    """The request line and headers of an HTTP/1.1 request with a Content-Length body."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}", f"Content-Length: {body_bytes}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
