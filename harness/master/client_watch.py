"""Per stage, how each load generator fared (from its HEALTH messages), and whether it was the limit.

A stage is flagged client-limited only on measured effects on its figures, never on the
event loop's lag alone (arrival times are the kernel's, so a late loop changes nothing
until it reads late):

- CPU: a load generator used more than CLIENT_CPU_LIMIT of a core over the stage;
- read delay: the p99 time from the kernel's receive stamp to the read passed
  CLIENT_READ_DELAY_LIMIT_S in some second (late reads merge events: the first token
  gets the second's stamp);
- send lateness: a rate stage's sends were late against their schedule (p99 past
  LATE_P99_LIMIT_S, harness/results.py).

A stage where the server queues requests for seconds leaves all three low: not flagged.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from harness import wire
from harness.results import CLIENT_CPU_LIMIT, CLIENT_READ_DELAY_LIMIT_S, StageClientHealth, StageSummary


@dataclass
class _Tally:
    cpu_s: float = 0.0
    wall_s: float = 0.0
    lag_p99_max_s: float = 0.0
    read_delay_p99_max_s: float = 0.0


def second_limited(cpu_share: float, read_delay_s: float) -> bool:
    """One second of one load generator past a limit (the live gauge's rule)."""
    return cpu_share > CLIENT_CPU_LIMIT or read_delay_s > CLIENT_READ_DELAY_LIMIT_S


class ClientWatch:
    """Holds every stage's tallies per worker; fed by Master with each HEALTH message."""

    def __init__(self) -> None:
        self._stages: dict[int, dict[int, _Tally]] = defaultdict(lambda: defaultdict(_Tally))

    def add(self, stage: int, health: wire.HealthMessage) -> tuple[float, float, float]:
        """Count one second of one worker toward a stage; returns its (CPU share, lag p99 s, read delay p99 s)."""
        tally = self._stages[stage][health["worker"]]
        tally.cpu_s += health["cpu_s"]
        tally.wall_s += health["wall_s"]
        tally.lag_p99_max_s = max(tally.lag_p99_max_s, health["lag_p99_s"])
        read_delay_s = health.get("read_delay_p99_s", 0.0)
        tally.read_delay_p99_max_s = max(tally.read_delay_p99_max_s, read_delay_s)
        share = health["cpu_s"] / health["wall_s"] if health["wall_s"] > 0 else 0.0
        return share, health["lag_p99_s"], read_delay_s

    def stage(self, stage: int, summary: StageSummary | None = None) -> StageClientHealth | None:
        """The stage's verdict; `summary` adds its send lateness (a rate stage's generator_late)."""
        workers = self._stages.get(stage)
        if not workers:
            return None
        shares = {worker: tally.cpu_s / tally.wall_s if tally.wall_s > 0 else 0.0 for worker, tally in workers.items()}
        lags = {worker: tally.lag_p99_max_s for worker, tally in workers.items()}
        delays = {worker: tally.read_delay_p99_max_s for worker, tally in workers.items()}
        limited_by = [
            name
            for name, passed in (
                ("cpu", any(share > CLIENT_CPU_LIMIT for share in shares.values())),
                ("read_delay", any(delay > CLIENT_READ_DELAY_LIMIT_S for delay in delays.values())),
                ("send_lateness", bool(summary and summary.get("generator_late"))),
            )
            if passed
        ]
        return StageClientHealth(
            cpu_share_max=round(max(shares.values()), 3),
            read_delay_p99_ms_max=round(max(delays.values()) * 1000, 3),
            loop_lag_p99_ms_max=round(max(lags.values()) * 1000, 3),
            limited=bool(limited_by),
            limited_by=limited_by,
            workers={
                str(worker): {
                    "cpu_share": round(shares[worker], 3),
                    "read_delay_p99_ms": round(delays[worker] * 1000, 3),
                    "loop_lag_p99_ms": round(lags[worker] * 1000, 3),
                }
                for worker in sorted(workers)
            },
        )
