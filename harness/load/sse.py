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

# Longest line, and longest event (its data lines together), kept before the stream is
# called malformed: a server that never ends a line must not grow the client's memory.
MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_EVENT_BYTES = 16 * 1024 * 1024


class SseTooLong(ValueError):
    """A line or an event passed its bound (MAX_LINE_BYTES, MAX_EVENT_BYTES)."""


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One server-sent event's data and the kernel's arrival time of its last byte (unix s)."""

    arrived_s: float  # unix seconds the read that completed the event arrived
    data: bytes


class SseReader:
    """Feed it reads as they arrive; it returns the events each read completed."""

    __slots__ = ("_partial_line", "_data_lines", "_data_bytes", "_pending_cr", "data_lines_seen")

    def __init__(self) -> None:
        self._partial_line = b""
        self._data_lines: list[bytes] = []
        self._data_bytes = 0
        self._pending_cr = False
        self.data_lines_seen = 0  # `data:` lines so far (none at all: not an event stream)

    def feed(self, chunk: bytes, arrived_s: float) -> list[SseEvent]:
        """The events this read completed. Raises SseTooLong past a line or event bound."""
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
        if len(self._partial_line) > MAX_LINE_BYTES:
            raise SseTooLong(f"an event-stream line passed {MAX_LINE_BYTES} bytes without ending")
        events: list[SseEvent] = []
        for line in lines:
            if not line:
                if self._data_lines:
                    events.append(SseEvent(arrived_s, b"\n".join(self._data_lines)))
                    self._data_lines = []
                    self._data_bytes = 0
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data_lines.append(value[1:] if value.startswith(b" ") else value)
                self.data_lines_seen += 1
                self._data_bytes += len(value)
                if self._data_bytes > MAX_EVENT_BYTES:
                    raise SseTooLong(f"an event's data passed {MAX_EVENT_BYTES} bytes without ending")
            # comments (":...") and other fields (event, id, retry) carry nothing we use
        return events
