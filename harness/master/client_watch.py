"""Per stage, how each load generator fared (from its HEALTH messages), and whether it was the limit."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TypedDict

from harness import wire
from harness.master.stats import StageSummary, load_of

CLIENT_CPU_LIMIT = 0.80  # share of one core over a stage
CLIENT_LAG_LIMIT_S = 0.005  # event-loop lag p99 in any second of a stage


class StageClientHealth(TypedDict):
    """A stage's load generators in summary.json: the worst of them, and each."""

    cpu_share_max: float  # of one core, over the stage
    loop_lag_p99_ms_max: float  # the highest rolling p99 (over 10 s of ticks) any second reported
    limited: bool  # some generator passed CLIENT_CPU_LIMIT or CLIENT_LAG_LIMIT_S
    workers: dict[str, dict[str, float]]


@dataclass
class _Tally:
    cpu_s: float = 0.0
    wall_s: float = 0.0
    lag_p99_max_s: float = 0.0


class ClientWatch:
    """Holds every stage's tallies per worker; fed by Master with each HEALTH message."""

    def __init__(self) -> None:
        self._stages: dict[int, dict[int, _Tally]] = defaultdict(lambda: defaultdict(_Tally))

    def add(self, stage: int, health: wire.HealthMessage) -> tuple[float, float]:
        """Count one second of one worker toward a stage; returns that second's (CPU share, lag p99 s)."""
        tally = self._stages[stage][health["worker"]]
        tally.cpu_s += health["cpu_s"]
        tally.wall_s += health["wall_s"]
        tally.lag_p99_max_s = max(tally.lag_p99_max_s, health["lag_p99_s"])
        return health["cpu_s"] / health["wall_s"] if health["wall_s"] > 0 else 0.0, health["lag_p99_s"]

    def stage(self, stage: int) -> StageClientHealth | None:
        workers = self._stages.get(stage)
        if not workers:
            return None
        shares = {worker: tally.cpu_s / tally.wall_s if tally.wall_s > 0 else 0.0 for worker, tally in workers.items()}
        lags = {worker: tally.lag_p99_max_s for worker, tally in workers.items()}
        return StageClientHealth(
            cpu_share_max=round(max(shares.values()), 3),
            loop_lag_p99_ms_max=round(max(lags.values()) * 1000, 3),
            limited=any(share > CLIENT_CPU_LIMIT for share in shares.values())
            or any(lag > CLIENT_LAG_LIMIT_S for lag in lags.values()),
            workers={str(worker): {"cpu_share": round(shares[worker], 3), "loop_lag_p99_ms": round(lags[worker] * 1000, 3)}
                     for worker in sorted(workers)},
        )  # fmt: skip


def limited_line(stage_number: int, stage: StageSummary, health: StageClientHealth) -> str:
    return (f"client-limited at stage {stage_number} ({load_of(stage)}): a load generator used "
            f"{100 * health['cpu_share_max']:.0f} % of a core, event-loop lag p99 {health['loop_lag_p99_ms_max']:.1f} ms "
            f"(limits {100 * CLIENT_CPU_LIMIT:.0f} %, {1000 * CLIENT_LAG_LIMIT_S:.0f} ms): add processes or workers; "
            "this stage's figures may show the client's limits, not the server's")  # fmt: skip
