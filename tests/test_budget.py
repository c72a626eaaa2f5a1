"""The master's budget ledger: exact counts, warm-up first, permits taken back, workers lost."""

from __future__ import annotations

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
