"""The simulator's event planner: one event per stream interval, split at boundaries."""

from __future__ import annotations

from harness.sim.plan import event_ends


def test_one_event_per_token_by_default() -> None:
    assert event_ends(4, 1) == [1, 2, 3, 4]


def test_stream_interval_groups_tokens_and_the_last_event_takes_the_rest() -> None:
    assert event_ends(10, 4) == [4, 8, 10]


def test_events_never_straddle_the_reasoning_boundary_or_a_fault() -> None:
    assert event_ends(10, 4, (3, None)) == [3, 7, 10]
    assert event_ends(10, 4, (3, 5)) == [3, 5, 9, 10]
    assert event_ends(10, 4, (0, 10, 12)) == [4, 8, 10]  # boundaries at or past the ends change nothing


def test_no_output_no_events() -> None:
    assert event_ends(0, 1) == []
