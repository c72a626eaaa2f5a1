"""Request rates through real Locust processes, checked against the simulator's kernel-stamped arrivals.

Open loop (evalscope's --open-loop --rate): Poisson arrivals across a master and two
workers, a constant rate's arrivals against their schedule, --max-concurrency's
rejections; closed loop paced by --rate. Each record keeps its due time; the simulator's
ground truth says when each request really arrived.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_sweep import master_args, start_workers, stop_all

from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import SimProcess, start_sim
from harness.records import RequestRecord, read_records
from harness.results import LATE_P99_LIMIT_S

from common import MODEL

LIGHT = [
    "--max-tokens",
    "8",
    "--image-width",
    "64",
    "--image-height",
    "64",
    "--min-prompt-length",
    "128",
    "--max-prompt-length",
    "128",
    "--metrics-port",
    "0",
]
# A pacer that drifts or waits wrongly is late on most sends; one process of another test
# run beside it (a shared 2-core machine) delays one or two of 100 by a few ms. So: most
# sends within 2 ms of their due time, none lost to a long stall.
SCHEDULE_ERROR_P90_LIMIT_S = 0.002
SCHEDULE_ERROR_MAX_S = 0.050


@pytest.fixture
def sim(tmp_path: Path) -> SimProcess:
    process = start_sim(["--fixed", "20", "2", "--model", MODEL], ground_truth=str(tmp_path / "gt.jsonl"))
    yield process  # type: ignore[misc]
    process.stop()


def arrivals(sim: SimProcess, records: list[RequestRecord]) -> tuple[np.ndarray, np.ndarray]:
    """Per request the server saw: (kernel arrival stamp, due time), in arrival order."""
    due_of = {record.request_id: record.due_s for record in records}
    pairs = sorted((request["received_at"], due_of[request["request_id"]]) for request in sim.ground_truth_records())
    return np.array([a for a, _ in pairs]), np.array([d for _, d in pairs], dtype=float)


def test_open_loop_poisson_across_two_workers_arrives_at_the_asked_rate(sim: SimProcess, tmp_path: Path) -> None:
    report = tmp_path / "r"
    workers = start_workers(5621, 2, tmp_path)
    try:
        result = run_locust(
            [
                *master_args(5621, sim, report),
                "--open-loop",
                "--rate",
                "20",
                "--number",
                "200",
                "--arrival",
                "poisson",
                *LIGHT,
            ]
        )
        for worker in workers:
            assert worker.wait(30) == 0
    finally:
        stop_all(workers)
    assert result.returncode == 0, result.stderr[-3000:]
    records = read_records(str(report / "requests.jsonl"))
    assert len(records) == 200 and {r.status for r in records} == {"ok"}
    assert {r.worker for r in records} == {0, 1}  # one schedule, both workers sending on it
    received_s, due_s = arrivals(sim, records)
    gaps_s = np.diff(received_s)
    print(
        f"gaps mean {gaps_s.mean() * 1000:.2f} ms, CV {gaps_s.std() / gaps_s.mean():.3f}; arrival - due p99 "
        f"{np.percentile(received_s - due_s, 99) * 1000:.2f} ms"
    )
    assert gaps_s.mean() == pytest.approx(0.050, rel=0.05)
    assert gaps_s.std() / gaps_s.mean() == pytest.approx(1.0, abs=0.1)
    stage = json.loads((report / "summary.json").read_text())["stages"][0]
    assert stage["rate_rps"] == 20 and stage["open_loop"] is True and stage["lateness_s"]["p50"] < 0.005


def test_a_constant_rate_arrives_on_its_schedule(sim: SimProcess, tmp_path: Path) -> None:
    report = tmp_path / "r"
    result = run_locust(
        [
            "--headless",
            "--host",
            sim.base_url,
            "--model",
            MODEL,
            "--report-dir",
            str(report),
            "--open-loop",
            "--rate",
            "50",
            "--number",
            "100",
            "--arrival",
            "constant",
            *LIGHT,
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    records = read_records(str(report / "requests.jsonl"))
    received_s, due_s = arrivals(sim, records)
    assert len(received_s) == 100
    assert np.diff(due_s) == pytest.approx(0.02, abs=1e-6)  # the schedule: one every 20 ms
    error_s = received_s - due_s  # the server's kernel stamp against the schedule
    print(
        f"arrival - due: p50 {np.percentile(error_s, 50) * 1000:.2f} ms, p99 {np.percentile(error_s, 99) * 1000:.2f} ms"
    )
    shown = sorted(round(e * 1000, 2) for e in error_s)[-5:]  # the latest five, in ms
    assert error_s.min() > 0 and np.percentile(error_s, 90) <= SCHEDULE_ERROR_P90_LIMIT_S, shown
    assert error_s.max() <= SCHEDULE_ERROR_MAX_S, shown
    lateness_s = [r.lateness_s for r in records]
    assert all(late is not None and late >= 0 for late in lateness_s)


def test_open_loop_past_max_concurrency_rejects_and_never_sends(tmp_path: Path) -> None:
    """2 users, each request ~300 ms, 50 due at 50 req/s: most find no free user and are rejected, not delayed."""
    sim = start_sim(["--fixed", "250", "5", "--model", MODEL], ground_truth=str(tmp_path / "gt.jsonl"))
    report = tmp_path / "r"
    try:
        result = run_locust(
            [
                "--headless",
                "--host",
                sim.base_url,
                "--model",
                MODEL,
                "--report-dir",
                str(report),
                "--open-loop",
                "--rate",
                "50",
                "--number",
                "50",
                "--max-concurrency",
                "2",
                *LIGHT,
            ]
        )
        truth = sim.ground_truth_records()
    finally:
        sim.stop()
    assert result.returncode == 1, result.stderr[-3000:]  # requests failed (rejected): Locust's exit 1
    records = read_records(str(report / "requests.jsonl"))
    rejected = [r for r in records if r.error is not None and r.error["reason"] == "rejected_client_limit"]
    sent = [r for r in records if r.status == "ok"]
    assert len(records) == 50 and len(rejected) + len(sent) == 50 and len(rejected) >= 25
    assert {g["request_id"] for g in truth} == {r.request_id for r in sent}  # a rejected one never reached it
    stage = json.loads((report / "summary.json").read_text())["stages"][0]
    assert stage["errors"] == {"rejected_client_limit": len(rejected)} and stage["parallel"] == 2


def test_a_closed_loop_paced_by_rate_keeps_its_users_and_its_schedule(sim: SimProcess, tmp_path: Path) -> None:
    report = tmp_path / "r"
    result = run_locust(
        [
            "--headless",
            "--host",
            sim.base_url,
            "--model",
            MODEL,
            "--report-dir",
            str(report),
            "--parallel",
            "4",
            "--rate",
            "10",
            "--number",
            "30",
            "--arrival",
            "constant",
            *LIGHT,
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    records = read_records(str(report / "requests.jsonl"))
    assert len(records) == 30 and {r.status for r in records} == {"ok"}
    received_s, due_s = arrivals(sim, records)
    assert np.diff(due_s) == pytest.approx(0.1, abs=1e-6)
    error_s = np.sort(received_s - due_s)
    print(
        f"closed loop, arrival - due: p50 {np.percentile(error_s, 50) * 1000:.2f} ms, p99 "
        f"{np.percentile(error_s, 99) * 1000:.2f} ms"
    )
    assert np.percentile(error_s, 99) <= LATE_P99_LIMIT_S  # the product's own "load generator late" bound
    # each record's own lateness (its send against its due time) is what the server saw, to the millisecond
    truth = {request["request_id"]: request["received_at"] for request in sim.ground_truth_records()}
    disagreement_s = [abs(truth[r.request_id] - r.due_s - r.lateness_s) for r in records]  # type: ignore[operator]
    assert np.percentile(disagreement_s, 99) <= 0.001
    stage = json.loads((report / "summary.json").read_text())["stages"][0]
    assert stage["open_loop"] is False and stage["rate_rps"] == 10 and "lateness_s" in stage
    assert "paced at 10 req/s" in result.stderr
