"""Whether run B is faster than run A, stage by stage, with an interval: what `omniload report A B` decides.

For each stage (paired by position) and latency metric, the ratio of B's statistic to A's and its 95 %
interval from a percentile bootstrap over requests: each run's successful requests of the stage
resampled with replacement (RESAMPLES times, seeded), the statistic (a nearest-rank percentile)
recomputed on both, the ratio's 2.5th and 97.5th percentiles taken. The verdict: the whole interval
above 1, "slower" (B takes longer); below 1, "faster"; otherwise "no detectable difference", with the
smallest change the data could have detected: the interval's larger distance from the ratio.
Hand-written on numpy: a dozen lines, where scipy.stats.bootstrap would add scipy for one function and
does not pair two samples into a ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

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

    def shown(self) -> str:
        if self.ratio is None or self.low is None or self.high is None:
            return self.verdict
        text = f"×{self.ratio:.3f} [{self.low:.3f}, {self.high:.3f}] {self.verdict}"
        if self.verdict == SAME and self.detectable is not None:
            text += f" (±{self.detectable * 100:.1f} % detectable)"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "ratio": self.ratio,
            "ci": [self.low, self.high],
            "verdict": self.verdict,
            "detectable": self.detectable,
        }


def stage_values(records: list[RequestRecord], stage: int, field: str) -> np.ndarray:
    """A stage's successful, measured (not warm-up, not probe) requests' values of `field`."""
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
    """B (`other`) against A (`base`) for one percentile."""
    if len(base) < MIN_REQUESTS or len(other) < MIN_REQUESTS:
        return Verdict(metric, None, None, None, f"too few requests ({len(base)}, {len(other)})", None)
    point_a, point_b = _percentile(base[None, :], percent)[0], _percentile(other[None, :], percent)[0]
    if point_a <= 0:
        return Verdict(metric, None, None, None, "A's value is 0", None)
    rng = np.random.default_rng(SEED)
    ratios = []
    for start in range(0, RESAMPLES, CHUNK):
        size = min(CHUNK, RESAMPLES - start)
        a = _percentile(base[rng.integers(0, len(base), (size, len(base)))], percent)
        b = _percentile(other[rng.integers(0, len(other), (size, len(other)))], percent)
        ratios.append(b / np.where(a > 0, a, np.nan))
    low, high = (float(x) for x in np.nanpercentile(np.concatenate(ratios), [2.5, 97.5]))
    ratio = float(point_b / point_a)
    verdict = SLOWER if low > 1 else FASTER if high < 1 else SAME
    return Verdict(metric, ratio, low, high, verdict, max(high - ratio, ratio - low))


def _percentile(rows: np.ndarray, percent: float) -> np.ndarray:
    """Nearest-rank percentile of each row (as the stage figures are)."""
    index = max(0, int(np.ceil(percent * rows.shape[1] / 100)) - 1)
    return np.partition(rows, index, axis=1)[:, index]


def stage_verdicts(base: list[RequestRecord], other: list[RequestRecord], stages: int) -> list[list[Verdict]]:
    """Per stage, one verdict per metric."""
    return [
        [
            compare(stage_values(base, stage, field), stage_values(other, stage, field), percent, label)
            for field, percent, label in METRICS
        ]
        for stage in range(stages)
    ]
