"""The sweep's state machine: spawn a stage's users, run its budget, pause, next stage.

Driven once a second by the load shape (harness/master/shape.py, master only), which
passes in the running user count and the time; the master supplies what a stage's
start and end mean (open the budget, write the summary row) and when a stage's budget
is used up. Pure: no Locust, no clock of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from harness.options import Stage

# Called with the stage's index in the sweep and the stage.
StageCallback = Callable[[int, Stage], None]


class Phase(Enum):
    """The sweep's phases, in the order a stage goes through them."""

    SPAWN = "spawn"  # waiting for the stage's users to be up
    RUNNING = "running"  # the stage's budget is open
    SLEEP = "sleep"  # --sleep-interval between two stages
    DONE = "done"


class SweepState:
    """Holds which stage runs and in which phase; `tick` says how many users Locust should run."""

    def __init__(
        self,
        stages: tuple[Stage, ...],
        sleep_interval_s: float,
        on_start: StageCallback,
        on_end: StageCallback,
        stage_complete: Callable[[], bool],
        next_stage: Callable[[], Stage | None] | None = None,
    ) -> None:
        """next_stage: asked after the last known stage ends (an SLA search adds stages as it goes)."""
        self.stages = list(stages)
        self._next_stage = next_stage
        self.sleep_interval_s = sleep_interval_s
        self._on_start = on_start
        self._on_end = on_end
        self._stage_complete = stage_complete
        self.index = 0
        self.phase = Phase.SPAWN if stages else Phase.DONE
        self._resume_at_s = 0.0

    def tick(self, user_count: int, now_s: float) -> tuple[int, float] | None:
        """Users and spawn rate for now (every stage spawns at once); None when the sweep is over.

        user_count: users running now; now_s: a monotonic clock in seconds.
        """
        if self.phase is Phase.SLEEP:
            if now_s < self._resume_at_s:
                previous = self.stages[self.index - 1]
                return previous.parallel, float(previous.parallel)
            self.phase = Phase.SPAWN
        if self.phase is Phase.DONE:
            return None
        stage = self.stages[self.index]
        if self.phase is Phase.SPAWN:
            if user_count == stage.parallel:
                self._on_start(self.index, stage)
                self.phase = Phase.RUNNING
            return stage.parallel, float(stage.parallel)
        if self._stage_complete():
            self._on_end(self.index, stage)
            self.index += 1
            if self.index >= len(self.stages) and self._next_stage is not None:
                following = self._next_stage()
                if following is not None:
                    self.stages.append(following)
            if self.index >= len(self.stages):
                self.phase = Phase.DONE
                return None
            self.phase = Phase.SLEEP if self.sleep_interval_s > 0 else Phase.SPAWN
            self._resume_at_s = now_s + self.sleep_interval_s
        return stage.parallel, float(stage.parallel)

    @property
    def running(self) -> bool:
        """A stage's budget is open (its records count toward it)."""
        return self.phase is Phase.RUNNING
