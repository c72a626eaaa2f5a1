"""What --sla-auto-tune searches for (evalscope perf's flags and --sla-params syntax), parsed and checked.

`--sla-params` is a JSON list of groups, each an object of metric -> condition, e.g.
'[{"avg_ttft": "<=1", "avg_tpot": "<=0.05"}, {"p99_latency": "<=5"}]': the conditions of a
group must all hold (AND); each group gets its own search and answer (OR). Latencies in
seconds, rps and tps (output tokens) per second. The search: harness/master/sla.py.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

from harness import safejson
from harness.argparsing import BadOption

METRIC_NAMES = (
    "avg_latency",
    "p99_latency",
    "avg_ttft",
    "p99_ttft",
    "avg_tpot",
    "p99_tpot",
    "rps",
    "tps",
    "avg_ttfa",  # --audio-output: time to first audio (s)
    "p99_ttfa",
    "p99_rtf",  # the spoken answers' real-time factor
)
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
}
SLA_VARIABLES = ("parallel", "rate")
DEFAULT_NUMBER_MULTIPLIER = 2.0  # evalscope's: requests per stage = value x 2
DEFAULT_NUM_RUNS = 3
DEFAULT_LOWER_BOUND = 1.0
DEFAULT_UPPER_BOUND = 65536.0


@dataclass(frozen=True)
class Criterion:
    """One condition of a group, e.g. p99_latency <= 2 (seconds, or per second for rps/tps)."""

    metric: str
    op: str
    bound: float

    def met(self, value: float | None) -> bool:
        return value is not None and OPERATORS[self.op](value, self.bound)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


def parse_sla_params(text: str) -> tuple[tuple[Criterion, ...], ...]:
    """--sla-params: groups of criteria (BadOption naming the flag when it is not evalscope's syntax)."""
    try:
        groups = safejson.loads(text)
    except ValueError as exc:
        raise BadOption("--sla-params", f"not JSON ({str(exc)[:80]}): {text[:80]!r}") from None
    if not isinstance(groups, list) or not groups or not all(isinstance(g, dict) and g for g in groups):
        raise BadOption("--sla-params", 'a JSON list of objects, e.g. \'[{"p99_latency": "<=2"}]\'')
    parsed = []
    for group in groups:
        criteria = []
        for metric, condition in group.items():
            if metric not in METRIC_NAMES:
                raise BadOption("--sla-params", f"unknown metric {metric!r} (one of {', '.join(METRIC_NAMES)})")
            text_condition = str(condition).replace(" ", "")
            if text_condition in ("max", "min"):
                raise BadOption(
                    "--sla-params",
                    f'{metric}: {text_condition} (extremum search) is not supported; give a bound such as "<=2"',
                )
            op = next((op for op in ("<=", ">=", "<", ">") if text_condition.startswith(op)), None)
            try:
                bound = float(text_condition[len(op) :]) if op else math.nan
            except ValueError:
                bound = math.nan
            if op is None or not 0 <= bound < math.inf:
                raise BadOption("--sla-params", f"{metric}: {condition!r} is not <=, <, >= or > and a number")
            criteria.append(Criterion(metric, op, bound))
        parsed.append(tuple(criteria))
    return tuple(parsed)


@dataclass(frozen=True)
class SlaSpec:
    """What to tune and how: the variable, the groups, the bounds, runs per value, the stages' shape."""

    variable: str  # parallel | rate
    groups: tuple[tuple[Criterion, ...], ...]
    start: float
    lower: float
    upper: float
    num_runs: int
    number_multiplier: float
    users: int  # for a rate: users per stage (open loop: --max-concurrency)
    open_loop: bool = False
