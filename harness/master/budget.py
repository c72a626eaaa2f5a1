"""The master's ledger of one stage's requests: handed out on demand, taken back, finished.

A stage sends exactly `warmup + number` requests. Users ask for a permit before each
request; the ledger grants one while the stage has some left, queues the ask otherwise,
and takes a permit back when the user that asked is gone by the time it arrives. The
stage is complete when every permit has been granted and reported finished (or lost
with its worker). Warm-up permits are all finished before the measured ones are handed
out, so warm-up requests never overlap measured ones.

A rate stage's measured permits carry their due times (harness/master/arrivals.py):
users hold a permit until it is due, so idle users hold the next ones ahead of time. In
a closed loop a permit due while every user is busy goes to the next user free (late,
and its lateness is recorded); in an open loop it expires instead (`expire_overdue`):
the request counts as rejected_client_limit and is never sent.

Pure bookkeeping: the caller delivers grants (Locust messages) and calls back in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from harness.master.arrivals import ArrivalSchedule
from harness.wire import Permit

# grant(worker_id, ask_id, permit)
GrantSender = Callable[[str, int, Permit], None]
UNBOUNDED = 2**62  # the budget of a stage that lasts a time, until end_budget


class BudgetLedger:
    """Holds one stage's permits: granted, queued asks, returned, finished. Driven by Master."""

    def __init__(self, send_grant: GrantSender) -> None:
        self._send_grant = send_grant
        self.stage = -1
        self._warmup = 0
        self._number = 0
        self._next_seq = 0
        self._phase_end_seq = 0  # seq at which the current phase's permits run out
        self._returned: deque[Permit] = deque()
        self._asks: deque[tuple[str, int]] = deque()
        self.outstanding: dict[Permit, str] = {}  # granted, not yet finished -> worker
        self.finished = 0
        self._open = False
        self._cut = False  # end_budget was called: the total is what was granted
        self._schedule: ArrivalSchedule | None = None
        self._open_loop = False
        self._next_due: Permit | None = None  # the next new permit, drawn ahead to learn its due time

    def open(
        self,
        stage: int,
        warmup: int,
        number: int | None,
        schedule: ArrivalSchedule | None = None,
        open_loop: bool = False,
    ) -> None:
        """Start handing out `warmup` then `number` permits for `stage` (None: until end_budget).

        With a schedule the measured permits carry due times; `open_loop` lets overdue
        permits expire (see expire_overdue) instead of waiting for a free user.
        """
        number = UNBOUNDED if number is None else number
        self.stage, self._warmup, self._number = stage, warmup, number
        self._schedule, self._open_loop, self._next_due = schedule, open_loop, None
        self._next_seq, self.finished = 0, 0
        self._phase_end_seq = warmup if warmup else number
        self._returned.clear()
        self.outstanding.clear()
        self._open = True
        self._cut = False
        self._grant_waiting()

    def end_budget(self) -> None:
        """No permit after those already granted (a stage's time is up); the stage is complete when they finish."""
        self._returned.clear()  # given back unused: never sent
        self._next_due = None
        self._cut = True
        self._phase_end_seq = self._next_seq

    def close(self) -> None:
        """No more permits (asks stay queued for the next stage)."""
        self._open = False

    @property
    def total(self) -> int:
        """Permits this stage will have finished when it is complete."""
        if self._cut:
            return self.finished + len(self.outstanding)
        return self._warmup + self._number

    @property
    def complete(self) -> bool:
        return self._open and self.finished == self.total

    def want(self, worker_id: str, ask_id: int) -> None:
        self._asks.append((worker_id, ask_id))
        self._grant_waiting()

    def cancel(self, worker_id: str, ask_id: int) -> None:
        try:
            self._asks.remove((worker_id, ask_id))
        except ValueError:
            pass  # already granted: the permit comes back with give_back

    def give_back(self, permit: Permit) -> None:
        """A granted permit its user could not use (the user was stopped meanwhile)."""
        if self.outstanding.pop(permit, None) is not None and permit.stage == self.stage:
            self._returned.append(permit)
            self._grant_waiting()

    def finish(self, permit: Permit) -> bool:
        """A permit's request ended; False if the ledger did not expect it (already lost)."""
        if self.outstanding.pop(permit, None) is None:
            return False
        self.finished += 1
        if self.finished == self._warmup and self._warmup and self._phase_end_seq == self._warmup and not self._cut:
            self._phase_end_seq = self.total  # warm-up done: hand out the measured permits
        self._grant_waiting()
        return True

    def worker_lost(self, worker_id: str) -> list[Permit]:
        """Forget a worker: its queued asks go, its requests in flight count as finished and lost."""
        self._asks = deque(ask for ask in self._asks if ask[0] != worker_id)
        lost = [permit for permit, holder in self.outstanding.items() if holder == worker_id]
        for permit in lost:
            del self.outstanding[permit]
            self.finished += 1
        if self._warmup and self.finished == self._warmup and self._phase_end_seq == self._warmup and not self._cut:
            self._phase_end_seq = self.total
        self._grant_waiting()
        return lost

    def _grant_waiting(self) -> None:
        while self._open and self._asks:
            permit = self._take()
            if permit is None:
                return
            worker_id, ask_id = self._asks.popleft()
            self.outstanding[permit] = worker_id
            self._send_grant(worker_id, ask_id, permit)

    @property
    def next_due_s(self) -> float | None:
        """When the next permit not yet granted is due (None: not a rate stage, or none left)."""
        permit = self._peek()
        return permit.due_s if permit is not None else None

    def expire_overdue(self, now_s: float) -> list[Permit]:
        """Open loop: permits due before `now_s` that no free user took; they count as finished.

        The caller records each as rejected_client_limit (never sent).
        """
        expired: list[Permit] = []
        while self._open and self._open_loop and not self._asks:
            permit = self._peek()
            if permit is None or permit.due_s is None or permit.due_s >= now_s:
                break
            expired.append(self._take())  # type: ignore[arg-type]
            self.finished += 1
        return expired

    def _peek(self) -> Permit | None:
        if self._returned:
            return self._returned[0]
        if self._next_due is None:
            self._next_due = self._new_permit()
        return self._next_due

    def _take(self) -> Permit | None:
        permit = self._peek()
        if permit is None:
            return None
        if self._returned:
            self._returned.popleft()
        else:
            self._next_due = None
            self._next_seq += 1
        return permit

    def _new_permit(self) -> Permit | None:
        """The permit _next_seq will be, without taking it; None when the phase has none left."""
        if self._next_seq >= self._phase_end_seq:
            return None
        seq = self._next_seq
        warmup = seq < self._warmup
        if self._schedule is None or warmup:
            return Permit(self.stage, seq, warmup)
        due_s = self._schedule.due_s(seq - self._warmup)
        if due_s is None:  # past the stage's --duration: the schedule is the budget
            self.end_budget()
            return None
        return Permit(self.stage, seq, warmup, due_s)
