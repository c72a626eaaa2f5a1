"""Pacing: an action runs at its due time in a native thread, and a kill never cuts it off half-way."""

from __future__ import annotations

import threading
import time

import gevent
import pytest

from harness.load.pacing import FINE_WAIT_S, run_at, sleep_until

DUE_IN_S = 0.05


def test_the_action_runs_at_its_due_time_in_a_native_thread() -> None:
    due_s = time.time() + DUE_IN_S
    ran_at_s, thread = run_at(due_s, lambda: (time.time(), threading.get_ident()))
    assert 0 <= ran_at_s - due_s < 0.002
    assert thread != threading.get_ident()


def test_a_past_due_time_runs_the_action_here_at_once() -> None:
    ran_at_s, thread = run_at(time.time() - 1, lambda: (time.time(), threading.get_ident()))
    assert thread == threading.get_ident() and time.time() - ran_at_s < 0.01


def test_the_actions_exception_reaches_the_caller() -> None:
    def fail() -> None:
        raise BrokenPipeError("the server went away")

    with pytest.raises(BrokenPipeError, match="went away"):
        run_at(time.time() + 0.01, fail)


def test_a_kill_during_the_fine_wait_takes_effect_after_the_action() -> None:
    ran: list[float] = []
    due_s = time.time() + DUE_IN_S
    waiter = gevent.spawn(run_at, due_s, lambda: ran.append(time.time()))
    gevent.sleep(DUE_IN_S - FINE_WAIT_S / 2)  # inside the native thread's part of the wait
    waiter.kill(block=True, timeout=5)
    assert waiter.dead and isinstance(waiter.value, gevent.GreenletExit)
    assert len(ran) == 1 and ran[0] >= due_s  # it ran, on time, before the kill ended the greenlet


def test_sleep_until_returns_at_the_due_time() -> None:
    due_s = time.time() + DUE_IN_S
    sleep_until(due_s)
    assert 0 <= time.time() - due_s < 0.002
