"""When each request reached the simulator: the kernel's receive time of the read that
completed its head.

A handler starts only when the event loop gets to it; with 100 requests arriving at
once, even a stamp taken as the head is parsed puts the last one tens of ms late (the
loop parses them one after another), and the ground truth would hide exactly the wait
that every client sees under a herd. So every read is a `recvmsg` with SO_TIMESTAMPNS
(as omniload's client reads), and the stamp is the time the kernel received the bytes.
"""

from __future__ import annotations

import asyncio
import collections
import os
import socket
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from harness import kernelstamp
from harness.sim.groundtruth import perf_from_wall

ARRIVAL_KEY = "arrived_perf"
READ_SIZE_BYTES = 262144


class StampingRequestHandler(RequestHandler):
    """aiohttp's request handler whose reads carry the kernel's arrival time.

    The transport's own reading is paused; this handler reads a duplicate of the socket's
    descriptor with `recvmsg` and SO_TIMESTAMPNS, so each read knows when the kernel
    received its last packet, and every request whose head that read completes is stamped
    with it. aiohttp's flow control pauses and resumes this reader instead of the
    transport's. Where the socket cannot be duplicated, the transport reads as usual and
    the stamp is taken when the bytes reach the handler.
    """

    __slots__ = ("arrivals_perf", "_stamp_socket", "_reading")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.arrivals_perf: collections.deque[float] = collections.deque()
        self._stamp_socket: socket.socket | None = None
        self._reading = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        raw = transport.get_extra_info("socket")
        try:
            duplicate = socket.socket(fileno=os.dup(raw.fileno()))
            duplicate.setblocking(False)
            kernelstamp.enable(duplicate)
        except (OSError, AttributeError):
            return  # the transport reads; data_received stamps
        self._stamp_socket = duplicate
        # uvloop starts the transport's reading after connection_made returns: pause it on
        # the loop's next turn, which comes before it polls the socket for the first time.
        self._loop.call_soon(self._take_over_reading)
        self._start_reading()

    def _take_over_reading(self) -> None:
        if self.transport is not None and self._stamp_socket is not None:
            self.transport.pause_reading()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._stop_reading()
        if self._stamp_socket is not None:
            self._stamp_socket.close()
            self._stamp_socket = None
        super().connection_lost(exc)

    def _start_reading(self) -> None:
        if self._stamp_socket is not None and not self._reading:
            self._loop.add_reader(self._stamp_socket.fileno(), self._on_readable)
            self._reading = True

    def _stop_reading(self) -> None:
        if self._stamp_socket is not None and self._reading:
            self._loop.remove_reader(self._stamp_socket.fileno())
            self._reading = False

    # aiohttp's flow control, redirected from the (paused) transport to this reader
    def _pause_transport_reading(self) -> None:
        if self._stamp_socket is None:
            super()._pause_transport_reading()
        else:
            self._stop_reading()

    def _resume_transport_reading(self) -> None:
        if self._stamp_socket is None:
            super()._resume_transport_reading()
        else:
            self._start_reading()

    def _on_readable(self) -> None:
        assert self._stamp_socket is not None
        try:
            data, ancillary, _flags, _address = self._stamp_socket.recvmsg(
                READ_SIZE_BYTES, kernelstamp.ANCILLARY_SIZE_BYTES
            )
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data, ancillary = b"", []  # reset by the peer: as an end
        if not data:
            self._stop_reading()
            if self.transport is not None:
                self.transport.close()
            return
        arrived_s = kernelstamp.stamp_s(ancillary)
        self._deliver(data, perf_from_wall(arrived_s) if arrived_s else time.perf_counter())

    def data_received(self, data: bytes) -> None:
        self._deliver(data, time.perf_counter())  # the transport's own reads (no kernel stamp)

    def _deliver(self, data: bytes, arrived_perf: float) -> None:
        before = self._request_count
        super().data_received(data)
        self.arrivals_perf.extend([arrived_perf] * (self._request_count - before))


class StampingServer(web.Server):
    """aiohttp's server that makes StampingRequestHandlers."""

    __slots__ = ()

    def __call__(self) -> RequestHandler:
        return StampingRequestHandler(self, loop=self._loop, **self._kwargs)


class StampingAppRunner(web.AppRunner):
    """An AppRunner whose connections stamp request arrivals."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = StampingServer
        return server


@web.middleware
async def stamp_arrival(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Put the request's arrival (perf_counter s) in request[ARRIVAL_KEY]; every request pops its own."""
    arrivals = getattr(request.protocol, "arrivals_perf", None)
    request[ARRIVAL_KEY] = arrivals.popleft() if arrivals else time.perf_counter()
    return await handler(request)
