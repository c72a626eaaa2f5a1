"""The best configuration and what the sweep says, as lines for the console and reports."""

from __future__ import annotations

from harness.results import (
    CLIENT_CPU_LIMIT,
    CLIENT_READ_DELAY_LIMIT_S,
    LATE_P99_LIMIT_S,
    SATURATION_RPS_GAIN,
    StageClientHealth,
    StageSummary,
    load_of,
)

MIN_SUCCESS_RATE = 0.95


def limited_line(stage_number: int, stage: StageSummary, health: StageClientHealth) -> str:
    """A stage the load generator limited: which measured effect, and what to do."""
    said = {
        "cpu": f"a load generator used {100 * health['cpu_share_max']:.0f} % of a core "
        f"(limit {100 * CLIENT_CPU_LIMIT:.0f} %)",
        "read_delay": f"reads came {health['read_delay_p99_ms_max']:.1f} ms after the kernel received the bytes "
        f"(p99; limit {1000 * CLIENT_READ_DELAY_LIMIT_S:.0f} ms)",
        "send_lateness": f"sends were late against the schedule (p99 past {1000 * LATE_P99_LIMIT_S:.0f} ms)",
    }
    reasons = "; ".join(said[name] for name in health.get("limited_by", ["cpu"]))
    return (
        f"client-limited at stage {stage_number} ({load_of(stage)}): {reasons}: add processes or workers; "
        "this stage's figures may show the client's limits, not the server's"
    )


def late_line(number: int, stage: StageSummary) -> str:
    """A rate stage the load generator sent late: coordinated omission shown, not hidden."""
    lateness = stage.get("lateness_s")
    p99_s = (lateness["p99"] if lateness else None) or 0.0
    return (
        f"Stage {number} ({load_of(stage)}): the load generator, not the server, was late: p99 lateness "
        f"{p99_s * 1000:.1f} ms past the schedule (limit {LATE_P99_LIMIT_S * 1000:.0f} ms"
        f"{', every user busy' if not stage.get('open_loop') else ''}); its latencies understate what "
        "on-time arrivals would have met. Add users, processes or workers, or lower the rate."
    )


def recommendations(stages: list[StageSummary], lost_workers: dict[str, int]) -> list[str]:
    """Best configuration (highest RPS, lowest latency) and what the sweep says, as lines."""
    measured = [stage for stage in stages if stage["succeeded"]]
    lines: list[str] = []
    if not measured:
        return ["No stage had a successful request."]
    best_rps = max(measured, key=lambda stage: stage["rps"])
    best = f"Best configuration: highest RPS {best_rps['rps']:.2f} at {load_of(best_rps)}"
    timed = [stage for stage in measured if stage["latency_s"]["mean"] is not None]
    if timed:
        best_latency = min(timed, key=lambda stage: stage["latency_s"]["mean"] or 0.0)
        best += f"; lowest average latency {best_latency['latency_s']['mean']:.3f} s at {load_of(best_latency)}"
    lines.append(best + ".")
    saturated = None
    for lower, higher in zip(measured, measured[1:], strict=False):
        if lower["rps"] > 0 and (higher["rps"] - lower["rps"]) / lower["rps"] < SATURATION_RPS_GAIN:
            saturated = (lower, higher)
            break
    if saturated:
        lower, higher = saturated
        lines.append(
            f"Saturation: RPS grew {100 * (higher['rps'] / lower['rps'] - 1):+.0f}% from {load_of(lower)} "
            f"to {load_of(higher)}; more load mostly adds latency."
        )
    elif len(measured) > 1:
        lines.append(
            f"No saturation reached: RPS still grew up to {load_of(measured[-1])}; try higher "
            f"{'--rate' if measured[-1].get('rate_rps') else '--parallel'} values."
        )
    for stage in stages:
        if stage["sent"] and stage["success_rate"] < MIN_SUCCESS_RATE:
            lines.append(
                f"Success rate {100 * stage['success_rate']:.1f}% at {load_of(stage)} "
                f"is below {100 * MIN_SUCCESS_RATE:.0f}%: {stage['errors']}."
            )
    first, last = measured[0]["latency_s"]["mean"], measured[-1]["latency_s"]["mean"]
    if len(measured) > 1 and first and last:
        lines.append(
            f"Average latency went from {first:.3f} s at {load_of(measured[0])} to "
            f"{last:.3f} s at {load_of(measured[-1])} ({last / first:.1f}x)."
        )
    for number, stage in enumerate(stages, start=1):
        if stage.get("generator_late"):
            lines.append(late_line(number, stage))
        health = stage.get("client")
        if health and health["limited"]:
            lines.append(limited_line(number, stage, health))
    for worker, in_flight in lost_workers.items():
        lines.append(
            f"Worker {worker} was lost; {in_flight} requests it had in flight are counted as failed "
            "(worker_lost), the rest of its budget went to the other workers."
        )
    return lines
