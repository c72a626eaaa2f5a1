"""Acting at a rate stage's due time to the tenth of a millisecond, without blocking other users.

gevent's timers ride the event loop, whose epoll timeout has millisecond granularity and
which wakes when other users' reads let it: a plain gevent.sleep lands 0-2 ms late, and
even a precise wake-up waits for whatever greenlet holds the loop. So the wait is coarse
on the loop until FINE_WAIT_S before the due time; then a native thread (the hub's
threadpool; the GIL is released while it sleeps) sleeps the rest with the real nanosleep
and acts itself: the request's first bytes are written from that thread, not after the
event loop gets round to resuming the user.
"""

from __future__ import annotations

import gevent
from gevent import monkey

import time
from collections.abc import Callable
from typing import TypeVar, cast

FINE_WAIT_S = 0.002  # the last part of a wait, slept in a native thread
# The real nanosleep: monkey-patched time.sleep would sleep on the native thread's own
# gevent loop, with the same millisecond granularity this module is here to avoid.
_native_sleep = monkey.get_original("time", "sleep")

Result = TypeVar("Result")


def coarse_wait(due_s: float) -> None:
    """Sleep on the event loop until FINE_WAIT_S before unix time `due_s`."""
    coarse_s = due_s - time.time() - FINE_WAIT_S
    if coarse_s > 0:
        gevent.sleep(coarse_s)


def run_at(due_s: float, action: Callable[[], Result]) -> Result:
    """Call `action` at unix time `due_s`, in a native thread (here and now when that has passed).

    `action` must be safe in a native thread: no gevent objects, only plain sockets and
    values. Once it is due, it runs even when this greenlet is killed meanwhile: the kill
    takes effect after it (at most FINE_WAIT_S later), so nothing it touches is closed under it.
    """
    coarse_wait(due_s)
    if time.time() >= due_s:
        return action()
    result = gevent.get_hub().threadpool.spawn(_native_wait_then, due_s, action)
    interrupted: BaseException | None = None
    while True:
        try:
            value = cast(Result, result.get())
            break
        except BaseException as exc:
            if result.ready():  # the action's own exception
                raise
            interrupted = interrupted or exc  # a kill while the thread waits: after it
    if interrupted is not None:
        raise interrupted
    return value


def sleep_until(due_s: float) -> None:
    """Return at unix time `due_s` (at once when it has passed)."""
    run_at(due_s, _nothing)


def _native_wait_then(due_s: float, action: Callable[[], Result]) -> Result:
    fine_s = due_s - time.time()
    if fine_s > 0:
        _native_sleep(fine_s)
    return action()


def _nothing() -> None:
    return None
