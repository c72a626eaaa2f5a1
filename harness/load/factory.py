"""Fresh payloads for runs of any length: a bounded buffer kept ahead of the users.

A plain `-t` run has no budget to build for, and recycling a fixed pool would let a
prefix- or multimodal-cached server answer repeats faster than new work. The factory
starts with the pool built before load and, whenever fewer than half of it are left,
builds the next batch in a native thread (image encoding and tokenizing release the GIL),
with a seed no earlier batch used. A user that finds the buffer empty waits for the batch
rather than reuse a payload, and the wait is counted: the load generator, not the
server, was the limit then. `--reuse-payloads` keeps a fixed pool instead (PayloadPool).
"""

from __future__ import annotations

import gevent
from gevent.event import Event

from collections import deque
from collections.abc import Callable

from harness.load.payloads import Payload

# Build function: (batch number) -> that batch's payloads (called in a native thread).
BatchBuilder = Callable[[int], list[Payload]]
LOW_WATER_SHARE = 0.5  # refill when this share of a batch is left


class PayloadFactory:
    """Holds the buffer of unsent payloads and the refill in progress; `take` never repeats one."""

    def __init__(self, first_batch: list[Payload], build_batch: BatchBuilder) -> None:
        if not first_batch:
            raise ValueError("an empty first batch")
        self._buffer: deque[Payload] = deque(first_batch)
        self._build_batch = build_batch
        self._batch_size = len(first_batch)
        self._batches = 1
        self._refilling = False
        self._refilled = Event()
        self.reused = 0  # never, by construction (the field every pool reports)
        self.built_during_load = 0
        self.waits = 0  # takes that found the buffer empty
        self.wait_s = 0.0

    def take(self) -> Payload:
        if len(self._buffer) <= self._batch_size * LOW_WATER_SHARE:
            self._refill()
        if not self._buffer:
            self.waits += 1
            started_s = gevent.get_hub().loop.now()
            while not self._buffer:
                self._refilled.clear()
                self._refill()
                self._refilled.wait()
            self.wait_s += gevent.get_hub().loop.now() - started_s
        return self._buffer.popleft()

    def _refill(self) -> None:
        if not self._refilling:
            self._refilling = True
            gevent.spawn(self._build_next)

    def _build_next(self) -> None:
        try:
            batch = gevent.get_hub().threadpool.apply(self._build_batch, (self._batches,))
            self._batches += 1
            self._buffer.extend(batch)
            self.built_during_load += len(batch)
        finally:
            self._refilling = False
            self._refilled.set()
