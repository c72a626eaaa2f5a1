"""A run checked against the simulator's ground truth, request by request (joined on X-Request-Id).

Used by `make demo`, the timing tests and bench/client_fidelity.py. The simulator stamps
a request when its head is parsed and each token when it is written; the client stamps
t_send before writing and each event as the kernel received it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from harness.records import RequestRecord

GroundTruth = dict[str, Any]  # one line of the simulator's ground-truth JSONL


@dataclass
class RequestErrors:
    """How far one request's client timings are from the server's, in seconds."""

    ttft_s: float  # |client TTFT - server TTFT|
    tpot_s: float | None  # |client TPOT - server TPOT|, with 2+ tokens
    send_s: float  # request written (client) -> stamped (server): the server's side of TTFT error
    receive_s: float  # first token written (server) -> stamped (client): the client's side


def request_errors(records: Iterable[RequestRecord], truth: Iterable[GroundTruth]) -> list[RequestErrors]:
    """Per successful request, how far the client's timings are from the server's."""
    by_id = {request["request_id"]: request for request in truth}
    errors = []
    for record in records:
        server = by_id.get(record.request_id)
        if record.status != "ok" or record.ttft_s is None or server is None or server["first_token_at"] is None:
            continue
        server_ttft_s = server["first_token_at"] - server["received_at"]
        tpot_error_s = None
        if record.tpot_s is not None and server["completion_tokens"] > 1:
            server_tpot_s = (server["last_token_at"] - server["first_token_at"]) / (server["completion_tokens"] - 1)
            tpot_error_s = abs(record.tpot_s - server_tpot_s)
        errors.append(
            RequestErrors(
                abs(record.ttft_s - server_ttft_s),
                tpot_error_s,
                server["received_at"] - record.t_send,
                abs(record.t_send + record.ttft_s - server["first_token_at"]),
            )
        )
    return errors


@dataclass
class StageSeen:
    """One stage as the server saw it."""

    requests: int
    peak_in_flight: int
    first_received_at: float
    last_finished_at: float


def stages_seen(records: Iterable[RequestRecord], truth: Iterable[GroundTruth]) -> dict[int, StageSeen]:
    """Per stage (from the client's record of each request id): requests, peak concurrency, span."""
    stage_of = {record.request_id: record.stage for record in records}
    by_stage: dict[int, list[GroundTruth]] = {}
    for request in truth:
        by_stage.setdefault(stage_of[request["request_id"]], []).append(request)
    seen = {}
    for stage, requests in by_stage.items():
        edges = []
        for request in requests:
            edges += [(request["received_at"], 1), (request["last_token_at"] or request["received_at"], -1)]
        in_flight = peak = 0
        for _, step in sorted(edges):  # on a tie the end (-1) sorts first
            in_flight += step
            peak = max(peak, in_flight)
        seen[stage] = StageSeen(
            len(requests),
            peak,
            min(r["received_at"] for r in requests),
            max(r["last_token_at"] or r["received_at"] for r in requests),
        )
    return seen
