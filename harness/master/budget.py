"""The master's ledger of one stage's requests: handed out on demand, taken back, finished.

A stage sends exactly `warmup + number` requests. Users ask for a permit before each
request; the ledger grants one while the stage has some left, queues the ask otherwise,
and takes a permit back when the user that asked is gone by the time it arrives. The
stage is complete when every permit has been granted and reported finished (or lost
with its worker). Warm-up permits are all finished before the measured ones are handed
out, so warm-up requests never overlap measured ones.

Pure bookkeeping: the caller delivers grants (Locust messages) and calls back in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

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

    def open(self, stage: int, warmup: int, number: int | None) -> None:
        """Start handing out `warmup` then `number` permits for `stage` (None: until end_budget)."""
        number = UNBOUNDED if number is None else number
        self.stage, self._warmup, self._number = stage, warmup, number
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

    def _take(self) -> Permit | None:
        if self._returned:
            return self._returned.popleft()
        if self._next_seq >= self._phase_end_seq:
            return None
        seq = self._next_seq
        self._next_seq += 1
        return Permit(self.stage, seq, seq < self._warmup)
