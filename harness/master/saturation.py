"""--stop-when-saturated: a sweep whose last two stages each added load without throughput, while latency grew.

The test (stated in the README): between consecutive stages, RPS grew by less than
SATURATION_RPS_GAIN (10 %, the same rule the recommendations use) and p50 latency grew by more
than SATURATION_LATENCY_GROWTH (10 %); twice in a row ends the sweep before its next stage.
"""

from __future__ import annotations

from harness.results import SATURATION_LATENCY_GROWTH, SATURATION_RPS_GAIN, StageSummary


def saturated(stages: list[StageSummary]) -> str | None:
    """Why the sweep should stop (the last two steps saturated), or None."""
    if len(stages) < 3:
        return None
    steps = []
    for before, after in zip(stages[-3:-1], stages[-2:], strict=True):
        rps_gain = after["rps"] / before["rps"] - 1 if before["rps"] else 0.0
        before_s, after_s = before["latency_s"]["p50"], after["latency_s"]["p50"]
        latency_growth = after_s / before_s - 1 if before_s and after_s is not None else 0.0
        if rps_gain >= SATURATION_RPS_GAIN or latency_growth <= SATURATION_LATENCY_GROWTH:
            return None
        steps.append(f"RPS {rps_gain * 100:+.0f} %, p50 latency {latency_growth * 100:+.0f} %")
    return (
        "--stop-when-saturated: throughput stopped growing while latency grew two stages in a row ("
        + "; ".join(steps)
        + ")"
    )
