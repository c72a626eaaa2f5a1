"""The load generator watches itself: CPU share, read delay and event-loop lag, once a second.

A client whose process is out of CPU, or whose event loop runs late, delays its own
bookkeeping, fills its receive windows and makes the server look slower than it is.
Arrival times are the kernel's, so lateness alone changes no figure; what does is a read
so late that two events arrive in it (both get the later stamp). The read delay, from
the kernel's stamp to the read (harness/load/http1.py READ_DELAYS_S), measures exactly
that; its p99 over the last READ_DELAY_SAMPLES reads goes with each HEALTH message.
A greenlet asks to sleep LAG_TICK_S again and again; how late it wakes is the loop's lag
(the scheduling delay every greenlet sees). Once a second the generator sends the master
a HEALTH message: its CPU share over the second and the lag's p99 over the last
LAG_WINDOW_S (a second holds only ~100 ticks, so its own "p99" was its worst tick: one
4 ms stall at a stage's start flagged 4 idle users as client-limited); the master
(harness/master/client_watch.py) flags a stage where any load generator passed its
limits ("client-limited: add processes or workers").
"""

from __future__ import annotations

import gevent

import time
from collections import deque
from collections.abc import Callable

from harness import wire
from harness.load.http1 import READ_DELAYS_S

LAG_TICK_S = 0.01
REPORT_EVERY_S = 1.0
LAG_WINDOW_S = 10.0  # the lag's p99 covers this many seconds of ticks (~1,000)
MIN_P99_TICKS = 200  # fewer since the stage began (2 s): no p99 yet (0), the second's max still says a stall
MIN_P99_READS = 100  # fewer reads since the stage began: no read-delay p99 yet (0)


def nearest_rank_p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-99 * len(ordered) // 100) - 1)] if ordered else 0.0


def read_delay_p99_s() -> float:
    """p99 of the recent reads' delay after their kernel stamp (0 until MIN_P99_READS reads)."""
    delays = list(READ_DELAYS_S)
    return nearest_rank_p99(delays) if len(delays) >= MIN_P99_READS else 0.0


class LoopWatch:
    """Holds the lag samples of the current second; `run` is the watching greenlet."""

    def __init__(self, worker: int, send: Callable[[wire.HealthMessage], None]) -> None:
        self.worker = worker
        self._send = send
        self._greenlet: gevent.Greenlet | None = None
        self._recent_s: deque[float] = deque(maxlen=round(LAG_WINDOW_S / LAG_TICK_S))

    def new_stage(self) -> None:
        """Forget the lags before a stage: spawning its users (256 at once in an open loop) is not its load."""
        self._recent_s.clear()
        READ_DELAYS_S.clear()

    def start(self) -> None:
        self._greenlet = gevent.spawn(self.run)

    def run(self) -> None:
        recent_s = self._recent_s = deque(maxlen=round(LAG_WINDOW_S / LAG_TICK_S))
        second_max_s = 0.0
        window_start_s, window_cpu_s = time.monotonic(), time.process_time()
        while True:
            asked_s = time.monotonic()
            gevent.sleep(LAG_TICK_S)
            now_s = time.monotonic()
            lag_s = max(0.0, now_s - asked_s - LAG_TICK_S)
            recent_s.append(lag_s)
            second_max_s = max(second_max_s, lag_s)
            if now_s - window_start_s >= REPORT_EVERY_S:
                cpu_s = time.process_time()
                health: wire.HealthMessage = {
                    "worker": self.worker,
                    "wall_s": now_s - window_start_s,
                    "cpu_s": cpu_s - window_cpu_s,
                    "lag_p99_s": nearest_rank_p99(list(recent_s)) if len(recent_s) >= MIN_P99_TICKS else 0.0,
                    "lag_max_s": second_max_s,
                    "read_delay_p99_s": read_delay_p99_s(),
                }
                self._send(health)
                second_max_s = 0.0
                window_start_s, window_cpu_s = now_s, cpu_s

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None
