"""Pacing: an action runs at its due time in a native thread, and a kill never cuts it off half-way."""

from __future__ import annotations

import gevent
from gevent import monkey

import threading
import time

import pytest

from harness.load.pacing import run_at, sleep_until

DUE_IN_S = 0.05
# Never early; how late at most is measured against the server's kernel stamps (tests/test_rates.py).
LATE_BOUND_S = 0.05
NativeLock = monkey.get_original("threading", "Lock")  # a real lock: shared with a native thread


def test_the_action_runs_at_its_due_time_in_a_native_thread() -> None:
    due_s = time.time() + DUE_IN_S
    ran_at_s, thread = run_at(due_s, lambda: (time.time(), threading.get_ident()))
    assert 0 <= ran_at_s - due_s < LATE_BOUND_S
    assert thread != threading.get_ident()


def test_a_past_due_time_runs_the_action_here_at_once() -> None:
    ran_at_s, thread = run_at(time.time() - 1, lambda: (time.time(), threading.get_ident()))
    assert thread == threading.get_ident() and time.time() - ran_at_s < 0.01


def test_the_actions_exception_reaches_the_caller() -> None:
    def fail() -> None:
        raise BrokenPipeError("the server went away")

    with pytest.raises(BrokenPipeError, match="went away"):
        run_at(time.time() + 0.01, fail)


def test_a_kill_while_the_action_is_due_takes_effect_after_it() -> None:
    """The action writes on a socket the killed user would close: the kill waits for it."""
    started, release = NativeLock(), NativeLock()  # both held by the test; the action frees `started`
    started.acquire()
    release.acquire()
    ran: list[float] = []

    def action() -> None:  # held in the native thread until the test lets it go
        started.release()
        release.acquire(timeout=10)
        ran.append(time.time())

    waiter = gevent.spawn(run_at, time.time() + 0.01, action)
    deadline_s = time.monotonic() + 10
    while started.locked() and time.monotonic() < deadline_s:
        gevent.sleep(0.001)
    assert not started.locked()
    waiter.kill(block=False)
    gevent.sleep(0.05)
    assert not waiter.dead and not ran  # still waiting for the action
    release.release()
    waiter.join(10)
    assert waiter.dead and isinstance(waiter.value, gevent.GreenletExit) and len(ran) == 1


def test_sleep_until_returns_at_the_due_time() -> None:
    due_s = time.time() + DUE_IN_S
    sleep_until(due_s)
    assert 0 <= time.time() - due_s < LATE_BOUND_S
