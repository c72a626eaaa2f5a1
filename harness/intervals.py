"""How sure a stage's figures are: 95 % intervals, and whether a percentile can be told at all.

- Percentiles: distribution-free intervals from order statistics. Of n independent values, the
  number below the population's p-quantile is Binomial(n, p), so the interval from the l-th to
  the u-th smallest value contains the quantile with probability F(u - 1) - F(l - 1) (F that
  binomial's CDF). l is the largest rank with F(l - 1) <= (1 - c) / 2 and u the smallest with
  F(u - 1) >= (1 + c) / 2, so the interval covers with at least c; a side no rank reaches is
  None (a p99 needs 367 values for both sides at 95 %). Hand-written: numpy has no binomial CDF,
  and scipy would be a large dependency for one function.
- A nearest-rank percentile is `estimable` only with at least one value above its rank (n >= 100
  for p99): below that it is the maximum, and the tables say "few" instead.
- Means: mean ± z·s/√n (n >= 2).
- Success rates: Wilson's score interval.
- Request rates: the count of successes as Poisson, ± z·√k, over the stage's wall time (an upper
  bound on the noise of a closed loop's count, which varies less).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

CONFIDENCE = 0.95
Z_95 = 1.959963984540054
Interval = tuple[float | None, float | None]


def binomial_cdf(n: int, p: float) -> np.ndarray:
    """F(k) = P(Binomial(n, p) <= k) for k = 0..n."""
    k = np.arange(n + 1)
    log_pmf = (
        math.lgamma(n + 1)
        - np.array([math.lgamma(i + 1) + math.lgamma(n - i + 1) for i in range(n + 1)])
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )
    return np.cumsum(np.exp(log_pmf - log_pmf.max())) / np.exp(log_pmf - log_pmf.max()).sum()


EXACT_RANKS_MAX_N = 5000  # above it the binomial is close enough to normal (and its exact CDF costs ~ms per 1000)


def quantile_ranks(n: int, percent: float, confidence: float = CONFIDENCE) -> tuple[int | None, int | None]:
    """1-based ranks (l, u) of the order statistics that bound the percent-quantile with at least `confidence`."""
    if n <= 0:
        return None, None
    if n > EXACT_RANKS_MAX_N:
        p = percent / 100
        half = Z_95 * math.sqrt(n * p * (1 - p))
        lower_rank, upper_rank = math.floor(n * p - half), math.ceil(n * p + half) + 1
        return (lower_rank if lower_rank >= 1 else None), (upper_rank if upper_rank <= n else None)
    cdf = binomial_cdf(n, percent / 100)
    tail = (1 - confidence) / 2
    # F(l - 1) <= tail: l - 1 is at most the last k with F(k) <= tail
    below = np.nonzero(cdf <= tail)[0]
    lower = int(below[-1]) + 1 if len(below) else None
    above = np.nonzero(cdf >= 1 - tail)[0]  # F(u - 1) >= 1 - tail
    upper = int(above[0]) + 1 if len(above) and int(above[0]) + 1 <= n else None
    return lower, upper


def quantile_interval(sorted_values: Sequence[float], percent: float, confidence: float = CONFIDENCE) -> Interval:
    lower, upper = quantile_ranks(len(sorted_values), percent, confidence)
    return (
        sorted_values[lower - 1] if lower is not None else None,
        sorted_values[upper - 1] if upper is not None else None,
    )


def nearest_rank(n: int, percent: float) -> int:
    """The nearest-rank percentile's rank among n values, from 1: ceil(p·n/100), rounded first so that
    99.9 % of 1000 is rank 999 (floating point makes 1.1·3000/100 a hair above 33)."""
    return max(1, math.ceil(round(percent * n / 100, 9)))


def estimable(n: int, percent: float) -> bool:
    """A nearest-rank percentile that is not the maximum: at least one value ranks above it."""
    return n > 0 and nearest_rank(n, percent) < n


def mean_interval(values: Sequence[float]) -> Interval:
    n = len(values)
    if n < 2:
        return None, None
    mean = math.fsum(values) / n
    spread = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = Z_95 * spread / math.sqrt(n)
    return mean - half, mean + half


def wilson_interval(successes: int, total: int) -> tuple[float, float]:
    """Wilson's 95 % score interval for a share; (0, 1) without trials."""
    if total == 0:
        return 0.0, 1.0
    share = successes / total
    denominator = 1 + Z_95**2 / total
    centre = (share + Z_95**2 / (2 * total)) / denominator
    half = Z_95 * math.sqrt(share * (1 - share) / total + Z_95**2 / (4 * total**2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def token_rate_interval(successes: int, seconds: float, tokens: Sequence[float]) -> Interval:
    """Tokens per second as successes per second times tokens per success: the two estimates' relative
    half-widths (Poisson count, mean with its standard error) added in quadrature (the delta method for a
    product of independent estimates)."""
    if seconds <= 0 or successes <= 0 or not tokens:
        return None, None
    total = math.fsum(tokens)
    mean = total / len(tokens)
    if mean <= 0:
        return 0.0, 0.0
    low, high = mean_interval(tokens)
    mean_relative = (high - mean) / mean if high is not None else 0.0
    relative = math.hypot(Z_95 / math.sqrt(successes), mean_relative)
    rate = total / seconds
    return max(0.0, rate * (1 - relative)), rate * (1 + relative)


def count_rate_interval(count: int, seconds: float) -> Interval:
    """A Poisson count's ± z·√count, per second."""
    if seconds <= 0:
        return None, None
    half = Z_95 * math.sqrt(count)
    return max(0.0, count - half) / seconds, (count + half) / seconds
