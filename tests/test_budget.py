"""The master's budget ledger: exact counts, warm-up first, permits taken back, workers lost."""

from __future__ import annotations

import pytest

from harness.master.arrivals import ArrivalSchedule
from harness.master.budget import BudgetLedger
from harness.wire import Permit


def make() -> tuple[BudgetLedger, list[tuple[str, int, Permit]]]:
    grants: list[tuple[str, int, Permit]] = []
    return BudgetLedger(lambda worker, ask, permit: grants.append((worker, ask, permit))), grants


def test_exactly_number_permits_then_asks_wait() -> None:
    ledger, grants = make()
    ledger.open(stage=0, warmup=0, number=3)
    for ask in range(5):
        ledger.want("w1", ask)
    assert [g[2].seq for g in grants] == [0, 1, 2]
    assert not ledger.complete
    for _, _, permit in grants:
        assert ledger.finish(permit)
    assert ledger.complete and ledger.finished == 3
    ledger.close()
    ledger.open(stage=1, warmup=0, number=1)  # the two queued asks are served by the next stage
    assert [(g[1], g[2]) for g in grants[3:]] == [(3, Permit(1, 0, False))]


def test_warmup_finishes_before_measured_permits() -> None:
    ledger, grants = make()
    ledger.open(stage=0, warmup=2, number=2)
    for ask in range(4):
        ledger.want("w", ask)
    assert [g[2] for g in grants] == [Permit(0, 0, True), Permit(0, 1, True)]
    ledger.finish(grants[0][2])
    assert len(grants) == 2  # one warm-up still running: no measured permit yet
    ledger.finish(grants[1][2])
    assert [g[2] for g in grants[2:]] == [Permit(0, 2, False), Permit(0, 3, False)]


def test_a_permit_given_back_goes_to_the_next_ask() -> None:
    ledger, grants = make()
    ledger.open(stage=0, warmup=0, number=1)
    ledger.want("w1", 1)
    ledger.want("w2", 2)
    ledger.give_back(grants[0][2])
    assert grants[1] == ("w2", 2, Permit(0, 0, False))


def test_cancelled_ask_is_not_served() -> None:
    ledger, grants = make()
    ledger.want("w1", 1)
    ledger.cancel("w1", 1)
    ledger.open(stage=0, warmup=0, number=1)
    assert grants == []


def test_lost_worker_requests_count_once_and_the_rest_go_to_survivors() -> None:
    ledger, grants = make()
    ledger.open(stage=0, warmup=0, number=4)
    ledger.want("dead", 1)
    ledger.want("alive", 2)
    ledger.want("dead", 3)  # granted too (budget left)
    assert ledger.worker_lost("dead") == [Permit(0, 0, False), Permit(0, 2, False)]
    assert not ledger.finish(Permit(0, 0, False))  # a late report of a lost request is not counted twice
    ledger.want("alive", 4)
    assert grants[-1] == ("alive", 4, Permit(0, 3, False))
    ledger.finish(Permit(0, 1, False))
    ledger.finish(Permit(0, 3, False))
    assert ledger.complete and ledger.finished == 4


def test_a_stage_that_lasts_a_time_grants_until_its_budget_ends_then_completes() -> None:
    ledger, grants = make()
    ledger.open(stage=0, warmup=0, number=None)
    for ask in range(5):
        ledger.want("w", ask)
    assert len(grants) == 5  # no count limits it
    ledger.finish(Permit(0, 0, False))
    ledger.end_budget()  # time is up: the 4 in flight finish, nothing more is granted
    ledger.want("w", 99)
    assert len(grants) == 5 and not ledger.complete
    for seq in range(1, 5):
        ledger.finish(Permit(0, seq, False))
    assert ledger.complete and ledger.finished == 5


def test_a_rate_stage_hands_out_due_times_in_order_after_the_warmup() -> None:
    ledger, grants = make()
    schedule = ArrivalSchedule(10.0, "constant", 1.0, seed=0)
    ledger.open(stage=0, warmup=1, number=3, schedule=schedule)
    for ask in range(4):
        ledger.want("w", ask)
    assert grants[0][2].due_s is None  # the warm-up goes at once
    ledger.finish(grants[0][2])
    dues = [g[2].due_s for g in grants[1:]]
    assert len(dues) == 3 and all(due is not None for due in dues)
    assert [b - a for a, b in zip(dues, dues[1:], strict=False)] == pytest.approx([0.1, 0.1], abs=1e-6)  # type: ignore[operator]


def test_open_loop_expires_what_no_free_user_took_and_the_stage_still_completes() -> None:
    ledger, grants = make()
    schedule = ArrivalSchedule(100.0, "constant", 1.0, seed=0)
    ledger.open(stage=0, warmup=0, number=5, schedule=schedule, open_loop=True)
    ledger.want("w", 0)  # one user: it holds permit 0
    assert [g[2].seq for g in grants] == [0]
    first_due = grants[0][2].due_s
    assert first_due is not None and ledger.next_due_s == first_due + 0.01
    assert ledger.expire_overdue(first_due) == []  # nothing overdue yet
    expired = ledger.expire_overdue(first_due + 0.025)  # permits 1 and 2 were due meanwhile, nobody free
    assert [permit.seq for permit in expired] == [1, 2]
    ledger.finish(grants[0][2])
    ledger.want("w", 1)  # free again: the next permit not yet overdue
    assert grants[-1][2].seq == 3
    ledger.finish(grants[-1][2])
    assert ledger.expire_overdue(first_due + 1.0)[0].seq == 4
    assert ledger.complete and ledger.finished == 5


def test_a_closed_loop_rate_stage_never_expires_a_permit() -> None:
    ledger, _ = make()
    ledger.open(stage=0, warmup=0, number=3, schedule=ArrivalSchedule(100.0, "constant", 1.0, seed=0))
    assert ledger.expire_overdue(float("inf")) == []  # late, not dropped: the next free user takes it


def test_a_timed_rate_stage_ends_where_its_schedule_does() -> None:
    ledger, grants = make()
    ledger.open(
        stage=0, warmup=0, number=None, schedule=ArrivalSchedule(10.0, "constant", 1.0, seed=0, duration_s=0.35)
    )
    for ask in range(10):
        ledger.want("w", ask)
    assert [g[2].seq for g in grants] == [0, 1, 2, 3]  # due at 0, 0.1, 0.2, 0.3 s; 0.4 s is past the duration
    for _, _, permit in grants:
        ledger.finish(permit)
    assert ledger.complete
