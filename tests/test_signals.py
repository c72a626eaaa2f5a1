"""SIGTERM and SIGINT on a headless run: stop sending, let open requests finish, write every report, exit 1.

What `timeout`, `docker stop` and Kubernetes send must not lose the run: a real Locust
process runs a sweep that cannot finish in time, gets the signal mid-stage, and must
leave summary.json, stages.csv and a record for every request the server saw.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from harness.devtools.locustproc import RUN_DEADLINE_S, locust_command
from harness.devtools.simprocess import SimProcess, start_sim
from harness.jsonl import read_jsonl

from common import MODEL

RECORDS_BEFORE_SIGNAL = 3


@pytest.fixture(scope="module")
def slow_sim(tmp_path_factory: pytest.TempPathFactory) -> SimProcess:
    ground_truth = tmp_path_factory.mktemp("sim") / "truth.jsonl"
    sim = start_sim(["--fixed", "20", "5", "--model", MODEL], ground_truth=str(ground_truth))
    yield sim  # type: ignore[misc]
    sim.stop()


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_stage_keeps_every_record_and_writes_the_reports(
    slow_sim: SimProcess, tmp_path: Path, signal_number: int
) -> None:
    report = tmp_path / "report"
    truth_before = len(slow_sim.ground_truth_records())
    # 200 output tokens at 5 ms: each request takes ~1 s; the budget would take minutes
    locust = subprocess.Popen(
        locust_command(
            [
                "--headless",
                "--host",
                slow_sim.base_url,
                "--model",
                MODEL,
                "--parallel",
                "2",
                "--number",
                "500",
                "--max-tokens",
                "200",
                "--image-num",
                "0",
                "--min-prompt-length",
                "32",
                "--max-prompt-length",
                "32",
                "--report-dir",
                str(report),
            ]
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + RUN_DEADLINE_S
    requests = report / "requests.jsonl"
    while time.monotonic() < deadline and (
        not requests.exists() or len(read_jsonl(str(requests))) < RECORDS_BEFORE_SIGNAL
    ):
        time.sleep(0.1)
    locust.send_signal(signal_number)
    stdout, stderr = locust.communicate(timeout=RUN_DEADLINE_S)
    assert locust.returncode == 1, stderr[-3000:]  # the stage did not run its budget
    summary = json.loads((report / "summary.json").read_text())
    assert summary["completed"] is False and summary["stopped_by"] == signal.Signals(signal_number).name
    assert (report / "stages.csv").exists()
    records = read_jsonl(str(requests))
    # the requests in flight at the signal finished normally, and none was lost
    assert {record["status"] for record in records} == {"ok"}
    assert len(records) == summary["stages"][0]["sent"] >= RECORDS_BEFORE_SIGNAL
    seen_by_server = slow_sim.ground_truth_records()[truth_before:]
    assert sorted(r["request_id"] for r in records) == sorted(g["request_id"] for g in seen_by_server)
    assert "Traceback" not in stderr


def running(sim: SimProcess) -> float:
    """Requests the simulator is generating now (its vllm:num_requests_running)."""
    with urllib.request.urlopen(sim.base_url + "/metrics", timeout=5) as response:
        page = response.read().decode()
    return sum(float(line.split()[-1]) for line in page.splitlines() if line.startswith("vllm:num_requests_running"))


def test_a_second_signal_ends_the_open_requests_at_once(slow_sim: SimProcess, tmp_path: Path) -> None:
    """The first signal lets 10-second streams finish; the second cuts them (kept as cancelled), at once."""
    report = tmp_path / "report"
    args = [
        "--headless",
        "--host",
        slow_sim.base_url,
        "--model",
        MODEL,
        "--parallel",
        "2",
        "--number",
        "50",
        "--max-tokens",
        "2000",
        "--image-num",
        "0",
        "--min-prompt-length",
        "32",
        "--max-prompt-length",
        "32",
        "--report-dir",
        str(report),
        "--metrics-port",
        "0",
    ]
    locust = subprocess.Popen(locust_command(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + RUN_DEADLINE_S
    while running(slow_sim) < 2 and time.monotonic() < deadline:  # both 10-second streams are open
        time.sleep(0.1)
    locust.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    locust.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    _, stderr = locust.communicate(timeout=60)
    assert time.monotonic() - signalled < 6, stderr[-2000:]  # not the ~6 s the streams had left
    assert "again: ending the open requests now" in stderr and "Traceback" not in stderr
    records = read_jsonl(str(report / "requests.jsonl"))
    assert {r["error"]["reason"] for r in records if r["error"]} == {"cancelled"} and len(records) == 2
