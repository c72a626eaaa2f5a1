"""SLA auto-tuning (evalscope perf's --sla-auto-tune): the most load that still meets the SLA.

The groups and bounds come from harness/slaspec.py. Search, per group, as evalscope does: measure the
start value; while it passes double it (up to --sla-upper-bound), while it fails halve
it (down to --sla-lower-bound); then bisect between the last pass and the first fail.
Each value is measured by --sla-num-runs stages of round(value x --sla-number-multiplier)
requests; their metrics are averaged, and any failed request fails the value (100 %
success required). Values already measured are reused across groups.

The search runs on the master between stages (harness/master/sweep.py asks it for the
next stage), so it works the same distributed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from harness.options import Stage, sla_stage
from harness.results import StageSummary
from harness.slaspec import Criterion, SlaSpec

# evalscope's metric names -> how to read them from a stage summary (seconds; per second)
METRICS: dict[str, Callable[[StageSummary], float | None]] = {
    "avg_latency": lambda stage: stage["latency_s"]["mean"],
    "p99_latency": lambda stage: stage["latency_s"]["p99"],
    "avg_ttft": lambda stage: stage["ttft_s"]["mean"],
    "p99_ttft": lambda stage: stage["ttft_s"]["p99"],
    "avg_tpot": lambda stage: stage["tpot_s"]["mean"],
    "p99_tpot": lambda stage: stage["tpot_s"]["p99"],
    "rps": lambda stage: stage["rps"],
    "tps": lambda stage: stage["output_tokens_per_s"],
    # --audio-output: the spoken answers' time to first audio and real-time factor
    "avg_ttfa": lambda stage: stage["ttfa_s"]["mean"] if "ttfa_s" in stage else None,
    "p99_ttfa": lambda stage: stage["ttfa_s"]["p99"] if "ttfa_s" in stage else None,
    "p99_rtf": lambda stage: stage["audio_rtf"]["p99"] if "audio_rtf" in stage else None,
}
RATE_RESOLUTION = 0.1  # a rate search stops when the fail/pass bracket is within 10 % of the pass


class SlaPoint(TypedDict):
    """One measured value: its runs' metrics averaged, and whether every request of them succeeded."""

    value: float
    runs: int
    metrics: dict[str, float | None]
    all_succeeded: bool


class SlaResult(TypedDict):
    """One group's answer (a row of sla_summary.json)."""

    criteria: str
    variable: str
    max_satisfied: float | None
    note: str
    tried: list[float]  # values in the order the search measured them


@dataclass
class _GroupSearch:
    criteria: tuple[Criterion, ...]
    value: float
    passing: float | None = None  # the largest value seen to pass
    failing: float | None = None  # the smallest value seen to fail
    tried: list[float] = field(default_factory=list)
    note: str = ""


class SlaSearch:
    """Decides the sweep's next stage from the summaries of the stages so far (the master, between stages)."""

    def __init__(self, spec: SlaSpec) -> None:
        self.spec = spec
        self.points: dict[float, SlaPoint] = {}
        self._runs: dict[float, list[StageSummary]] = {}
        self._queued: list[float] = [spec.start]  # the value of each stage handed out, in order (the first: options)
        self._seen = 0  # summaries already read
        self._searches = [_GroupSearch(group, spec.start) for group in spec.groups]
        self._current = 0  # the group being searched
        self.results: list[SlaResult] = []

    def next_stage(self, summaries: list[StageSummary]) -> Stage | None:
        """The next stage to run, or None when every group has its answer."""
        for summary in summaries[self._seen :]:
            value = self._queued[self._seen]
            self._runs.setdefault(value, []).append(summary)
            self._seen += 1
            if len(self._runs[value]) == self.spec.num_runs:
                self.points[value] = _point(value, self._runs[value])
        while self._current < len(self._searches):
            search = self._searches[self._current]
            while search.value in self.points:
                if not self._step(search):
                    break
            if not search.note:
                return self._stage_for(search.value)
            self.results.append(
                SlaResult(
                    criteria=" and ".join(map(str, search.criteria)),
                    variable=self.spec.variable,
                    max_satisfied=search.passing,
                    note=search.note,
                    tried=search.tried,
                )
            )
            self._current += 1
        return None

    def _stage_for(self, value: float) -> Stage:
        self._queued.append(value)
        return sla_stage(self.spec, value)

    def _step(self, search: _GroupSearch) -> bool:
        """Judge the measured value and move on; False once the group has its answer (note set)."""
        spec, value = self.spec, search.value
        search.tried.append(value)
        point = self.points[value]
        if point["all_succeeded"] and all(c.met(point["metrics"][c.metric]) for c in search.criteria):
            search.passing = max(search.passing or value, value)
        else:
            search.failing = min(search.failing or value, value)
        if search.failing is None:  # all passed so far: double
            if value >= spec.upper:
                search.note = "upper bound reached"
                return False
            search.value = self._rounded(min(value * 2, spec.upper))
        elif search.passing is None:  # all failed so far: halve
            if value <= spec.lower:
                search.note = "not satisfied at the lower bound"
                return False
            search.value = self._rounded(max(value / 2, spec.lower))
        else:
            low, high = search.passing, search.failing
            if self._bracketed(low, high):
                search.note = "satisfied"
                return False
            search.value = self._rounded((low + high) / 2)
            if search.value in (low, high):
                search.note = "satisfied"
                return False
        return True

    def _bracketed(self, low: float, high: float) -> bool:
        if self.spec.variable == "parallel":
            return high - low <= 1
        return high - low <= RATE_RESOLUTION * low

    def _rounded(self, value: float) -> float:
        if self.spec.variable == "parallel":
            return float(math.floor(value))
        return float(f"{value:.3g}")


def _point(value: float, runs: list[StageSummary]) -> SlaPoint:
    metrics: dict[str, float | None] = {}
    for name, read in METRICS.items():
        values = [read(run) for run in runs]
        metrics[name] = math.fsum(values) / len(values) if all(v is not None for v in values) else None  # type: ignore[arg-type]
    return SlaPoint(
        value=value,
        runs=len(runs),
        metrics=metrics,
        all_succeeded=all(run["failed"] == 0 and run["sent"] > 0 for run in runs),
    )


def sla_summary(spec: SlaSpec, search: SlaSearch) -> dict[str, Any]:
    """sla_summary.json: the spec, every measured value and each group's answer."""
    return {
        "variable": spec.variable,
        "lower_bound": spec.lower,
        "upper_bound": spec.upper,
        "num_runs": spec.num_runs,
        "number_multiplier": spec.number_multiplier,
        "results": search.results,
        "points": [search.points[value] for value in sorted(search.points)],
    }
