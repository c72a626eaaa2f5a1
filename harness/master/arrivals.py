"""When a rate stage's requests are due: an arrival schedule on the absolute (unix) clock.

The master draws the gaps between sends (vLLM's benchmark's arrivals: gamma-distributed
with shape = burstiness and mean 1/rate, so burstiness 1 is a Poisson process; or
constant gaps) from a seeded generator, and hands each permit its due time, so every
worker sends on one schedule and every record keeps its due time and its lateness.

A stage of a known number N of requests spans exactly (N - 1) / rate: its N - 1 gaps are
drawn, then scaled to that sum. For Poisson arrivals that is exactly a Poisson process
conditioned on N arrivals (uniform order statistics); for gamma arrivals the gaps are
Dirichlet-distributed with the same shape. Either way the stage's schedule has the asked
mean rate, not a random one (200 i.i.d. exponential gaps miss their mean by 7 % (one
sd) as often as not). A stage that lasts a time draws unscaled gaps, as vLLM does.
"""

from __future__ import annotations

import time

import numpy as np

# The first send is due this long after the schedule starts: the grants reach their
# users (over the network from the master) before anything is due.
SCHEDULE_LEAD_S = 0.05
GAPS_PER_DRAW = 1024


class ArrivalSchedule:
    """Due times (unix s) of a stage's requests 0, 1, 2, ... at `rate_rps`; None past `duration_s`.

    The clock starts at the first call to `due_s` (when the stage's measured requests begin).
    """

    def __init__(
        self,
        rate_rps: float,
        arrival: str,
        burstiness: float,
        seed: int,
        duration_s: float | None = None,
        count: int | None = None,
        offsets_s: tuple[float, ...] | None = None,
    ) -> None:
        """count: the stage's number of requests when known (its gaps are scaled to span (count - 1) / rate);
        offsets_s: a trace's due times after the start, used as they are (no draws)."""
        if arrival not in ("poisson", "gamma", "constant"):
            raise ValueError(f"unknown arrival process {arrival!r}")
        self.rate_rps = rate_rps
        self.arrival = arrival
        self.shape = 1.0 if arrival == "poisson" else burstiness
        self.duration_s = duration_s
        self._rng = np.random.default_rng([seed, 7])
        self._offsets_s: list[float] = [0.0]  # of request i from the first one
        self.start_s: float | None = None
        self._fixed = offsets_s is not None
        if offsets_s is not None:
            self._offsets_s = list(offsets_s)
            return
        if count is not None and count > 1 and arrival != "constant":
            gaps_s = self._gaps_s(count - 1)
            if not gaps_s.sum() > 0:  # every draw underflowed (a tiny shape): all at once is the limit
                gaps_s = np.zeros(count - 1)
                gaps_s[-1] = 1.0
            gaps_s *= (count - 1) / rate_rps / gaps_s.sum()
            self._offsets_s.extend(np.cumsum(gaps_s).tolist())

    def due_s(self, index: int) -> float | None:
        """When request `index` is due, or None when that is past the stage's duration."""
        if self.start_s is None:
            self.start_s = time.time() + SCHEDULE_LEAD_S
        if self._fixed:
            if index >= len(self._offsets_s):
                return None
            offset_s = self._offsets_s[index]
        elif self.arrival == "constant":
            offset_s = index / self.rate_rps  # exact, no sum of rounded gaps
        else:
            while len(self._offsets_s) <= index:
                self._offsets_s.extend((self._offsets_s[-1] + np.cumsum(self._gaps_s(GAPS_PER_DRAW))).tolist())
            offset_s = self._offsets_s[index]
        if self.duration_s is not None and offset_s >= self.duration_s:
            return None
        return self.start_s + offset_s

    def _gaps_s(self, count: int) -> np.ndarray:
        """Gamma-distributed gaps with mean 1/rate (shape 1: exponential, a Poisson process)."""
        return self._rng.gamma(self.shape, 1.0 / (self.rate_rps * self.shape), count)
