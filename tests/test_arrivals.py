"""Arrival schedules: the gaps' distribution (vLLM's gamma/Poisson), constant pacing, seeds, durations."""

from __future__ import annotations

import numpy as np
import pytest

from harness.master.arrivals import SCHEDULE_LEAD_S, ArrivalSchedule

DRAWS = 20_000


def gaps_s(schedule: ArrivalSchedule, count: int = DRAWS) -> np.ndarray:
    return np.diff([schedule.due_s(index) for index in range(count)])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arrival", "burstiness", "cv"),
    [("poisson", 1.0, 1.0), ("gamma", 0.25, 2.0), ("gamma", 4.0, 0.5), ("constant", 1.0, 0.0)],
)
def test_gaps_have_the_rates_mean_and_the_processes_spread(arrival: str, burstiness: float, cv: float) -> None:
    gaps = gaps_s(ArrivalSchedule(20.0, arrival, burstiness, seed=3))
    assert gaps.mean() == pytest.approx(0.05, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, abs=0.04)  # gamma's CV is 1/sqrt(shape)


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another() -> None:
    first, again, other = (gaps_s(ArrivalSchedule(5.0, "poisson", 1.0, seed), 100) for seed in (1, 1, 2))
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_the_clock_starts_at_the_first_due_time_asked_with_a_lead() -> None:
    import time

    schedule = ArrivalSchedule(1.0, "constant", 1.0, seed=0)
    before_s = time.time()
    first_s = schedule.due_s(0)
    assert first_s is not None and before_s + SCHEDULE_LEAD_S <= first_s <= time.time() + SCHEDULE_LEAD_S
    assert schedule.due_s(3) == pytest.approx(first_s + 3.0)


def test_nothing_is_due_past_the_duration() -> None:
    schedule = ArrivalSchedule(10.0, "constant", 1.0, seed=0, duration_s=1.0)
    assert schedule.due_s(9) is not None and schedule.due_s(10) is None


@pytest.mark.parametrize(("arrival", "burstiness", "cv"), [("poisson", 1.0, 1.0), ("gamma", 0.25, 2.0)])
def test_a_stage_of_known_size_spans_exactly_its_rate_and_keeps_the_spread(
    arrival: str, burstiness: float, cv: float
) -> None:
    schedule = ArrivalSchedule(20.0, arrival, burstiness, seed=0, count=DRAWS)
    gaps = gaps_s(schedule)
    assert gaps.sum() == pytest.approx((DRAWS - 1) / 20.0, rel=1e-6)  # the asked rate exactly
    assert gaps.std() / gaps.mean() == pytest.approx(cv, abs=0.06)
