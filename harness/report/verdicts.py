"""Whether run B is faster than run A, stage by stage, with an interval: what `omniload report A B` decides.

For each stage (paired by position) and latency metric, the ratio of B's statistic to A's and its 95 %
interval from a percentile bootstrap over requests: each run's successful requests of the stage
resampled with replacement (RESAMPLES times, seeded), the statistic (a nearest-rank percentile)
recomputed on both, the ratio's 2.5th and 97.5th percentiles taken. The verdict: the whole interval
above 1, "slower" (B takes longer); below 1, "faster"; otherwise "no detectable difference", with the
smallest change the data could have detected: the interval's larger distance from the ratio.

When both runs repeated their stages (--num-runs 2 or more), a planned stage's runs are compared,
and the bootstrap is over runs: each resample draws the stage's runs with replacement, then each
drawn run's requests with replacement (a two-stage bootstrap, Davison & Hinkley 1997, section 3.8),
and takes the statistic over them pooled. Requests of one run share its server state, so they are not
independent draws; a difference between builds then has to stand out against how much whole runs
differ, not only against how much requests do.

Hand-written on numpy: a few dozen lines, where scipy.stats.bootstrap would add scipy for one function
and neither pairs two samples into a ratio nor resamples in two stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.intervals import nearest_rank
from harness.records import RequestRecord
from harness.results import PROBE_CLASS

RESAMPLES = 2000
CHUNK = 200  # resamples drawn at a time (memory: CHUNK x requests)
SEED = 20_261_204
MIN_REQUESTS = 10  # fewer in either run's stage: no verdict
# (record field, percentile, label)
METRICS: tuple[tuple[str, float, str], ...] = (
    ("ttft_s", 50, "TTFT p50"),
    ("ttft_s", 90, "TTFT p90"),
    ("tpot_s", 50, "TPOT p50"),
    ("latency_s", 50, "latency p50"),
)
SLOWER, FASTER, SAME = "slower", "faster", "no detectable difference"


@dataclass(frozen=True)
class Verdict:
    metric: str
    ratio: float | None  # B / A
    low: float | None
    high: float | None
    verdict: str  # slower, faster, no detectable difference, or why there is none
    detectable: float | None  # the smallest relative change the data could have detected (no difference)
    runs: tuple[int, int] | None = None  # bootstrapped over runs: how many each side had (None: over requests)

    def shown(self) -> str:
        if self.ratio is None or self.low is None or self.high is None:
            return self.verdict
        text = f"×{self.ratio:.3f} [{self.low:.3f}, {self.high:.3f}] {self.verdict}"
        if self.verdict == SAME and self.detectable is not None:
            text += f" (±{self.detectable * 100:.1f} % detectable)"
        if self.runs is not None:
            text += f" over {self.runs[0]} and {self.runs[1]} runs"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "ratio": self.ratio,
            "ci": [self.low, self.high],
            "verdict": self.verdict,
            "detectable": self.detectable,
            "basis": "runs" if self.runs is not None else "requests",
            "runs": list(self.runs) if self.runs is not None else None,
        }


def stage_values(records: list[RequestRecord], stage: int, field: str) -> np.ndarray:
    """A stage's (its index in summary.json's stages) successful, measured (not warm-up, not probe)
    requests' values of `field`."""
    return np.array(
        [
            value
            for record in records
            if record.stage == stage
            and record.status == "ok"
            and not record.warmup
            and record.request_class != PROBE_CLASS
            and (value := getattr(record, field)) is not None
        ],
        dtype=np.float64,
    )


def compare(base: np.ndarray, other: np.ndarray, percent: float, metric: str = "") -> Verdict:
    """B (`other`) against A (`base`) for one percentile, bootstrapped over requests."""
    refusal = _refusal(base, other, percent, metric)
    if refusal is not None:
        return refusal
    rng = np.random.default_rng(SEED)
    ratios = []
    for start in range(0, RESAMPLES, CHUNK):
        size = min(CHUNK, RESAMPLES - start)
        a = _percentile(base[rng.integers(0, len(base), (size, len(base)))], percent)
        b = _percentile(other[rng.integers(0, len(other), (size, len(other)))], percent)
        ratios.append(b / np.where(a > 0, a, np.nan))
    return _verdict(metric, base, other, percent, np.concatenate(ratios), None)


def compare_runs(base: list[np.ndarray], other: list[np.ndarray], percent: float, metric: str = "") -> Verdict:
    """B against A for one percentile when both repeated the stage: each side a list of its runs' values,
    bootstrapped in two stages (runs, then each drawn run's requests)."""
    pooled_a, pooled_b = np.concatenate(base), np.concatenate(other)
    refusal = _refusal(pooled_a, pooled_b, percent, metric)
    if refusal is not None:
        return refusal
    rng = np.random.default_rng(SEED)
    ratios = np.empty(RESAMPLES)
    for index in range(RESAMPLES):
        a, b = (_two_stage(runs, rng, percent) for runs in (base, other))
        ratios[index] = b / a if a > 0 else np.nan
    return _verdict(metric, pooled_a, pooled_b, percent, ratios, (len(base), len(other)))


def _two_stage(runs: list[np.ndarray], rng: np.random.Generator, percent: float) -> float:
    """The percentile over one two-stage resample: runs drawn with replacement, then each one's requests."""
    drawn = [runs[index] for index in rng.integers(0, len(runs), len(runs))]
    parts = [run[rng.integers(0, len(run), len(run))] for run in drawn if len(run)]
    return float(_percentile(np.concatenate(parts)[None, :], percent)[0]) if parts else np.nan


def _refusal(base: np.ndarray, other: np.ndarray, percent: float, metric: str) -> Verdict | None:
    """Why there is no verdict (too few requests, A's value 0), or None."""
    if len(base) < MIN_REQUESTS or len(other) < MIN_REQUESTS:
        return Verdict(metric, None, None, None, f"too few requests ({len(base)}, {len(other)})", None)
    if _percentile(base[None, :], percent)[0] <= 0:
        return Verdict(metric, None, None, None, "A's value is 0", None)
    return None


def _verdict(
    metric: str, base: np.ndarray, other: np.ndarray, percent: float, ratios: np.ndarray, runs: tuple[int, int] | None
) -> Verdict:
    """The verdict from the point ratio (over all requests) and the resampled ratios' 95 % interval."""
    low, high = (float(x) for x in np.nanpercentile(ratios, [2.5, 97.5]))
    ratio = float(_percentile(other[None, :], percent)[0] / _percentile(base[None, :], percent)[0])
    verdict = SLOWER if low > 1 else FASTER if high < 1 else SAME
    return Verdict(metric, ratio, low, high, verdict, max(high - ratio, ratio - low), runs)


def _percentile(rows: np.ndarray, percent: float) -> np.ndarray:
    """Nearest-rank percentile of each row (as the stage figures are)."""
    index = nearest_rank(rows.shape[1], percent) - 1
    return np.partition(rows, index, axis=1)[:, index]


def planned_stages(summary: dict[str, Any]) -> list[list[int]]:
    """Per planned stage, the indexes of its runs in summary.json's stages (--num-runs: several; else one)."""
    repeated = summary.get("repeated")
    if repeated:
        return [[number - 1 for number in planned["runs"]] for planned in repeated]
    return [[index] for index in range(len(summary.get("stages", [])))]


def stage_verdicts(
    base: tuple[dict[str, Any], list[RequestRecord]], other: tuple[dict[str, Any], list[RequestRecord]]
) -> list[list[Verdict]]:
    """Per planned stage (paired by position), one verdict per metric; each side its (summary, records).
    Over runs where both sides ran the stage more than once, else over requests (a side's runs pooled)."""
    verdicts = []
    for runs_a, runs_b in zip(planned_stages(base[0]), planned_stages(other[0]), strict=False):
        row = []
        for field, percent, label in METRICS:
            values_a = [stage_values(base[1], index, field) for index in runs_a]
            values_b = [stage_values(other[1], index, field) for index in runs_b]
            if len(runs_a) > 1 and len(runs_b) > 1:
                row.append(compare_runs(values_a, values_b, percent, label))
            else:
                row.append(compare(np.concatenate(values_a), np.concatenate(values_b), percent, label))
        verdicts.append(row)
    return verdicts
