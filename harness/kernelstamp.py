"""The kernel's receive time of socket reads (Linux SO_TIMESTAMPNS): the client's and the simulator's clock.

With the option set, each `recvmsg` carries, as ancillary data, the time the kernel
received the read's last packet: when the bytes arrived, however busy the process was.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # == SCM_TIMESTAMPNS; Python's socket module lacks it
TIMESPEC = struct.Struct("@qq")
ANCILLARY_SIZE_BYTES = socket.CMSG_SPACE(TIMESPEC.size)

Ancillary = Iterable[tuple[int, int, bytes]]


def enable(sock: socket.socket) -> None:
    """Ask the kernel to stamp this socket's reads."""
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)


def stamp_s(ancillary: Ancillary) -> float | None:
    """The unix time a read's bytes arrived, from its ancillary data; None when it carries none."""
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= TIMESPEC.size:
            seconds, nanoseconds = TIMESPEC.unpack_from(value)
            return seconds + nanoseconds * 1e-9
    return None
