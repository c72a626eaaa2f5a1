"""A server-sent-events reader that keeps the arrival time of every event.

Written by hand because timing is the point: each event carries the arrival time
of the read that completed it, taken by the caller as the bytes came off the socket.
Follows the WHATWG event-stream rules the servers rely on: lines end in CRLF, LF or CR
(a CR at the end of one read may pair with an LF at the start of the next); lines that
start with ':' are comments (keep-alives); `data:` with or without a space, several
`data:` lines joined by LF; a blank line dispatches; other fields are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One server-sent event's data and the kernel's arrival time of its last byte (unix s)."""

    arrived_s: float  # unix seconds the read that completed the event arrived
    data: bytes


class SseReader:
    """Feed it reads as they arrive; it returns the events each read completed."""

    __slots__ = ("_partial_line", "_data_lines", "_pending_cr")

    def __init__(self) -> None:
        self._partial_line = b""
        self._data_lines: list[bytes] = []
        self._pending_cr = False

    def feed(self, chunk: bytes, arrived_s: float) -> list[SseEvent]:
        if self._pending_cr:
            self._pending_cr = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        if b"\r" in chunk:
            if chunk.endswith(b"\r"):
                self._pending_cr = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = chunk.split(b"\n")
        if self._partial_line:
            lines[0] = self._partial_line + lines[0]
        self._partial_line = lines.pop()
        events: list[SseEvent] = []
        for line in lines:
            if not line:
                if self._data_lines:
                    events.append(SseEvent(arrived_s, b"\n".join(self._data_lines)))
                    self._data_lines = []
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data_lines.append(value[1:] if value.startswith(b" ") else value)
            # comments (":...") and other fields (event, id, retry) carry nothing we use
        return events
