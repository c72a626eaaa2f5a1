"""What the simulator saw of a sweep, stage by stage (joined with the client's records)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class StageSeen:
    requests: int
    peak_in_flight: int
    first_received_at: float
    last_finished_at: float


def stages_seen(truth: list[dict[str, Any]], records: list[dict[str, Any]]) -> dict[int, StageSeen]:
    """Per stage (from the client's record of each request id): count, peak concurrency, span."""
    stage_of = {record["request_id"]: record["stage"] for record in records}
    by_stage: dict[int, list[dict[str, Any]]] = {}
    for request in truth:
        by_stage.setdefault(stage_of[request["request_id"]], []).append(request)
    seen = {}
    for stage, requests in by_stage.items():
        edges = []
        for request in requests:
            finished_at = request["last_token_at"] or request["received_at"]
            edges += [(request["received_at"], 1), (finished_at, -1)]
        in_flight = peak = 0
        for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):  # ends first on ties
            in_flight += step
            peak = max(peak, in_flight)
        seen[stage] = StageSeen(len(requests), peak, min(r["received_at"] for r in requests),
                                max(r["last_token_at"] or r["received_at"] for r in requests))  # fmt: skip
    return seen
