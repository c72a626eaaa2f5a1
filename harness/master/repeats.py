"""--num-runs: each planned stage run K times in a row; its runs pooled, and how much they differ.

summary.json's `stages` keep one entry per run (requests.jsonl's `stage` indexes them);
`repeated` gives, per planned stage, the figures over all its runs' requests (rates over the
runs' wall times summed) and `between_runs`: for the figures a reader compares, each run's
value with their mean, standard deviation, min and max. A large spread between runs says
one run's interval understates the uncertainty (a server's state, the order of arrivals).
"""

from __future__ import annotations

import math
from typing import Any

from harness.master.stats import StageAccumulator
from harness.results import StageSummary

# (name, the run summary's field, statistic or None)
COMPARED: tuple[tuple[str, str, str | None], ...] = (
    ("rps", "rps", None),
    ("output_tokens_per_s", "output_tokens_per_s", None),
    ("ttft_p50_s", "ttft_s", "p50"),
    ("ttft_p90_s", "ttft_s", "p90"),
    ("tpot_p50_s", "tpot_s", "p50"),
    ("latency_p50_s", "latency_s", "p50"),
)


def repeated_stages(pooled: list[StageAccumulator], runs: list[StageSummary], num_runs: int) -> list[dict[str, Any]]:
    """Per planned stage: its pooled figures, its runs and their spread."""
    result = []
    for planned, accumulator in enumerate(pooled):
        own = runs[planned * num_runs : (planned + 1) * num_runs]
        figures: dict[str, Any] = dict(accumulator.summary(wall_s=sum(run["wall_time_s"] for run in own)))
        figures["stage"] = planned + 1
        figures["runs"] = [run.get("stage") for run in own]
        figures["between_runs"] = {name: spread(own, field, statistic) for name, field, statistic in COMPARED}
        result.append(figures)
    return result


def spread(runs: list[StageSummary], field: str, statistic: str | None) -> dict[str, Any]:
    values = []
    for run in runs:
        value: Any = run.get(field)
        if statistic is not None:
            value = value.get(statistic) if isinstance(value, dict) else None
        if value is not None:
            values.append(float(value))
    if not values:
        return {"values": [], "mean": None, "sd": None, "min": None, "max": None}
    mean = math.fsum(values) / len(values)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
    return {"values": values, "mean": mean, "sd": sd, "min": min(values), "max": max(values)}
