"""The sweep's state machine, driven by hand: users asked for, stage starts and ends, pauses."""

from __future__ import annotations

from harness.master.sweep import Phase, SweepState
from harness.options import Stage


def make(sleep_interval_s: float) -> tuple[SweepState, list[tuple[str, int]], list[bool]]:
    events: list[tuple[str, int]] = []
    complete = [False]
    state = SweepState(
        (Stage(1, 2), Stage(4, 8)),
        sleep_interval_s,
        lambda i, _: events.append(("start", i)),
        lambda i, _: events.append(("end", i)),
        lambda: complete[0],
    )
    return state, events, complete


def test_a_stage_starts_only_when_all_its_users_are_up_and_ends_when_its_budget_is_done() -> None:
    state, events, complete = make(0)
    assert state.tick(user_count=0, now_s=0) == (1, 1.0) and events == []
    assert state.tick(user_count=1, now_s=1) == (1, 1.0) and events == [("start", 0)]
    assert state.tick(user_count=1, now_s=2) == (1, 1.0) and state.running
    complete[0] = True
    state.tick(user_count=1, now_s=3)
    assert events[-1] == ("end", 0) and state.phase is Phase.SPAWN
    complete[0] = False
    assert state.tick(user_count=1, now_s=4) == (4, 4.0) and not state.running  # still spawning 4
    state.tick(user_count=4, now_s=5)
    complete[0] = True
    assert state.tick(user_count=4, now_s=6) is None
    assert events == [("start", 0), ("end", 0), ("start", 1), ("end", 1)] and state.phase is Phase.DONE
    assert state.tick(user_count=4, now_s=7) is None


def test_the_pause_between_stages_keeps_the_last_stages_users() -> None:
    state, events, complete = make(5)
    state.tick(0, 0)
    state.tick(1, 1)
    complete[0] = True
    state.tick(1, 2)
    complete[0] = False
    assert state.phase is Phase.SLEEP
    assert state.tick(1, 6.9) == (1, 1.0)  # 5 s after the stage ended at t=2
    assert state.tick(1, 7.0) == (4, 4.0) and state.phase is Phase.SPAWN


def test_no_stages_means_nothing_to_run() -> None:
    state = SweepState((), 0, lambda *_: None, lambda *_: None, lambda: True)
    assert state.tick(0, 0) is None
