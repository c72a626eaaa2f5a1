"""When each request reached the simulator: stamped as its headers are parsed.

A handler starts only when the event loop gets to it; with many requests arriving at
once the last one would be stamped after all the others were handled, and its TTFT in
the ground truth would hide that wait (which every client sees). aiohttp parses request
heads in its protocol's `data_received`, before any handler runs, so the stamp is taken
there and handed to the handler through the request.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

ARRIVAL_KEY = "arrived_perf"


class StampingRequestHandler(RequestHandler):
    """aiohttp's request handler that stamps each request's arrival when its head is parsed."""

    __slots__ = ("arrivals_perf",)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.arrivals_perf: collections.deque[float] = collections.deque()

    def data_received(self, data: bytes) -> None:
        arrived_perf = time.perf_counter()
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
