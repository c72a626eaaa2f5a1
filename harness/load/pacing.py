"""Waiting for a rate stage's due time to the tenth of a millisecond, without blocking other users.

gevent's timers ride the event loop, whose epoll timeout has millisecond granularity and
which wakes when other users' reads let it: a plain gevent.sleep lands 0-2 ms late. So
the wait is coarse on the loop until FINE_WAIT_S before the due time, then a native
thread's nanosleep (the hub's threadpool; the GIL is released) for the rest.
"""

from __future__ import annotations

import time

import gevent
from gevent import monkey

FINE_WAIT_S = 0.002  # the last part of a wait, slept in a native thread
# The real nanosleep: monkey-patched time.sleep would sleep on the native thread's own
# gevent loop, with the same millisecond granularity this module is here to avoid.
_native_sleep = monkey.get_original("time", "sleep")


def sleep_until(due_s: float) -> None:
    """Return at unix time `due_s` (at once when it has passed)."""
    coarse_s = due_s - time.time() - FINE_WAIT_S
    if coarse_s > 0:
        gevent.sleep(coarse_s)
    fine_s = due_s - time.time()
    if fine_s > 0:
        gevent.get_hub().threadpool.apply(_native_sleep, (fine_s,))
