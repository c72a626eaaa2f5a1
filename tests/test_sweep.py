"""Sweeps through real Locust processes, checked against what the simulator saw.

Per stage the server must see exactly `number` requests, at most `parallel` in flight
and `parallel` reached when number >= parallel, the stages in order and never
overlapping; summary.json, stages.csv and requests.jsonl must agree with it. Topologies:
one process, `--processes 2`, and a master with two workers as separate processes
reached on two loopback addresses (master on 127.0.0.2, simulator on 127.0.0.1).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from harness.devtools.locustproc import RUN_DEADLINE_S, locust_command, run_locust
from harness.devtools.promserver import free_port
from harness.devtools.simprocess import SimProcess, start_sim
from harness.devtools.verify import stages_seen
from harness.jsonl import read_jsonl
from harness.records import read_records

from common import MODEL

PARALLEL = [1, 4, 8]
NUMBER = [2, 8, 16]
SWEEP = ["--parallel", *map(str, PARALLEL), "--number", *map(str, NUMBER), "--sleep-interval", "0.5"]
LIGHT = [
    "--max-tokens",
    "24",
    "--image-width",
    "64",
    "--image-height",
    "64",
    "--min-prompt-length",
    "128",
    "--max-prompt-length",
    "128",
]
MASTER_HOST = "127.0.0.2"
WORKER_EXIT_DEADLINE_S = 15.0


def check_sweep(sim: SimProcess, report: Path, parallel: list[int], number: list[int]) -> None:
    truth = sim.ground_truth_records()
    records = read_records(str(report / "requests.jsonl"))
    assert {r.request_id for r in records} == {g["request_id"] for g in truth}
    seen = stages_seen(records, truth)
    assert sorted(seen) == list(range(len(parallel)))
    for index, (users, requests) in enumerate(zip(parallel, number, strict=False)):
        assert seen[index].requests == requests
        assert seen[index].peak_in_flight == min(users, requests)
        if index:
            assert seen[index].first_received_at > seen[index - 1].last_finished_at  # no overlap, in order
    summary = json.loads((report / "summary.json").read_text())
    assert [(s["parallel"], s["number"], s["sent"], s["succeeded"]) for s in summary["stages"]] == [
        (p, n, n, n) for p, n in zip(parallel, number, strict=False)
    ]
    with open(report / "stages.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(int(r["parallel"]), int(r["sent"]), float(r["rps"])) for r in rows] == [
        (s["parallel"], s["sent"], s["rps"]) for s in summary["stages"]
    ]


@pytest.fixture
def sim(tmp_path: Path) -> SimProcess:
    process = start_sim(["--fixed", "30", "3", "--model", MODEL], ground_truth=str(tmp_path / "gt.jsonl"))
    yield process  # type: ignore[misc]
    process.stop()


def test_one_process(sim: SimProcess, tmp_path: Path) -> None:
    report = tmp_path / "r"
    result = run_locust(
        ["--headless", "--host", sim.base_url, "--model", MODEL, "--report-dir", str(report), *SWEEP, *LIGHT]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    check_sweep(sim, report, PARALLEL, NUMBER)
    assert "Best configuration: highest RPS" in result.stdout


def test_processes_2(sim: SimProcess, tmp_path: Path) -> None:
    report = tmp_path / "r"
    result = run_locust(
        [
            "--headless",
            "--processes",
            "2",
            "--host",
            sim.base_url,
            "--model",
            MODEL,
            "--report-dir",
            str(report),
            *SWEEP,
            *LIGHT,
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    check_sweep(sim, report, PARALLEL, NUMBER)


def start_workers(port: int, count: int, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            locust_command(["--worker", "--master-host", MASTER_HOST, "--master-port", str(port)]),
            stdout=open(log_dir / f"worker{i}.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        for i in range(count)
    ]


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def master_args(port: int, sim: SimProcess, report: Path) -> list[str]:
    return [
        "--master",
        "--master-bind-host",
        MASTER_HOST,
        "--master-bind-port",
        str(port),
        "--expect-workers",
        "2",
        "--headless",
        "--host",
        sim.base_url,
        "--model",
        MODEL,
        "--report-dir",
        str(report),
    ]


def test_master_and_two_workers(sim: SimProcess, tmp_path: Path) -> None:
    report = tmp_path / "r"
    workers = start_workers(5611, 2, tmp_path)
    try:
        result = run_locust([*master_args(5611, sim, report), *SWEEP, *LIGHT])
        for worker in workers:
            assert worker.wait(30) == 0
    finally:
        stop_all(workers)
    assert result.returncode == 0, result.stderr[-3000:]
    check_sweep(sim, report, PARALLEL, NUMBER)
    # workers keep their own records too, and together they are the master's
    own = [r["request_id"] for path in sorted(report.glob("requests.worker-*.jsonl")) for r in read_jsonl(str(path))]
    assert len(list(report.glob("requests.worker-*.jsonl"))) == 2
    assert sorted(own) == sorted(r["request_id"] for r in read_jsonl(str(report / "requests.jsonl")))


def test_lost_worker_gives_its_budget_to_the_survivor(sim: SimProcess, tmp_path: Path) -> None:
    report = tmp_path / "r"
    workers = start_workers(5612, 2, tmp_path)
    master = subprocess.Popen(
        locust_command(
            [
                *master_args(5612, sim, report),
                "--parallel",
                "4",
                "--number",
                "40",
                "--max-tokens",
                "200",
                "--image-num",
                "0",
                "--min-prompt-length",
                "64",
                "--max-prompt-length",
                "64",
                "--sleep-interval",
                "0",
            ]
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        own_files = [report / f"requests.worker-{index}.jsonl" for index in (0, 1)]
        deadline = time.monotonic() + 60
        while not all(f.exists() and f.stat().st_size for f in own_files) and time.monotonic() < deadline:
            time.sleep(0.05)  # both workers have finished requests: the stage is under way
        assert all(f.exists() for f in own_files), "a worker never finished a request"
        os.kill(workers[1].pid, signal.SIGKILL)
        stdout, stderr = master.communicate(timeout=RUN_DEADLINE_S)
    finally:
        stop_all([master, *workers])
    assert master.returncode == 1, stderr[-3000:]  # some requests failed (lost in flight)
    summary = json.loads((report / "summary.json").read_text())
    stage = summary["stages"][0]
    lost = sum(summary["lost_workers"].values())
    assert stage["sent"] == 40 and stage["errors"] == ({"worker_lost": lost} if lost else {})
    assert stage["succeeded"] == 40 - lost
    # The server got the budget, less any lost request the worker had not yet sent.
    assert 40 - lost <= len(sim.ground_truth_records()) <= 40
    assert 1 <= lost <= 4  # at most its share of the 4 users had one in flight
    assert "was lost" in stdout


def test_lost_master_stops_the_workers(sim: SimProcess, tmp_path: Path) -> None:
    report = tmp_path / "r"
    workers = start_workers(5613, 2, tmp_path)
    master = subprocess.Popen(
        locust_command(
            [
                *master_args(5613, sim, report),
                "--parallel",
                "4",
                "--number",
                "400",
                "--max-tokens",
                "1000",
                "--image-num",
                "0",
                "--min-prompt-length",
                "64",
                "--max-prompt-length",
                "64",
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(report.glob("requests.worker-*.jsonl")) and time.monotonic() < deadline:
            time.sleep(0.05)  # the workers are streaming
        master.kill()
        master.wait()
        killed_at = time.monotonic()
        for worker in workers:
            worker.wait(WORKER_EXIT_DEADLINE_S + 5)
        assert time.monotonic() - killed_at <= WORKER_EXIT_DEADLINE_S
    finally:
        stop_all([master, *workers])


def test_warmup_requests_go_first_and_stay_out_of_the_statistics(sim: SimProcess, tmp_path: Path) -> None:
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
            "2",
            "--number",
            "4",
            "--warmup-num",
            "2",
            *LIGHT,
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    records = read_records(str(report / "requests.jsonl"))
    truth = {g["request_id"]: g for g in sim.ground_truth_records()}
    warm = [truth[r.request_id] for r in records if r.warmup]
    measured = [truth[r.request_id] for r in records if not r.warmup]
    assert (len(warm), len(measured), len(truth)) == (2, 4, 6)
    assert max(g["last_token_at"] for g in warm) < min(g["received_at"] for g in measured)
    assert json.loads((report / "summary.json").read_text())["stages"][0]["sent"] == 4


def test_unpaired_lists_exit_2_before_any_request(sim: SimProcess, tmp_path: Path) -> None:
    result = run_locust(
        [
            "--headless",
            "--host",
            sim.base_url,
            "--model",
            MODEL,
            "--report-dir",
            str(tmp_path / "r"),
            "--parallel",
            "1",
            "2",
            "--number",
            "5",
        ]
    )
    assert result.returncode == 2
    assert [line for line in result.stderr.splitlines() if line.startswith("omniload: error:")] == [
        "omniload: error: --number: 1 values for 2 --parallel values (pairs them up)"
    ]
    assert sim.ground_truth_records() == []


def test_workers_that_refuse_the_input_make_the_master_exit_2(sim: SimProcess, tmp_path: Path) -> None:
    """Only workers load the tokenizer: a path they cannot read is found there, and must reach the master."""
    report = tmp_path / "r"
    truth_before = len(sim.ground_truth_records())
    workers = start_workers(5613, 2, tmp_path)
    try:
        result = run_locust(
            [*master_args(5613, sim, report), *SWEEP, *LIGHT, "--tokenizer-path", str(tmp_path / "no-tokenizer-here")]
        )
        codes = [worker.wait(30) for worker in workers]
    finally:
        stop_all(workers)
    assert codes == [2, 2]
    assert result.returncode == 2, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("omniload: error:")]
    assert errors and errors[0].startswith("omniload: error: --tokenizer-path: cannot load a tokenizer")
    assert "Traceback" not in result.stderr
    assert len(sim.ground_truth_records()) == truth_before  # no load was sent


def test_a_plain_distributed_run_keeps_every_record(tmp_path: Path) -> None:
    """-t ends while 3 s requests are in flight on the workers: their records must still reach the master."""
    sim = start_sim(["--fixed", "10", "10", "--model", MODEL], ground_truth=str(tmp_path / "truth.jsonl"))
    report = tmp_path / "r"
    workers = start_workers(5615, 2, tmp_path)
    try:
        result = run_locust(
            [*master_args(5615, sim, report), "-u", "6", "-r", "6", "-t", "4s", *LIGHT, "--max-tokens", "300"]
        )
        for worker in workers:
            worker.wait(60)
        truth = sim.ground_truth_records()
    finally:
        stop_all(workers)
        sim.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    records = read_jsonl(str(report / "requests.jsonl"))
    assert {r["request_id"] for r in records} == {g["request_id"] for g in truth}
    assert {r["status"] for r in records} == {"ok"}  # the open ones finished, none was cut off
    summary = json.loads((report / "summary.json").read_text())
    assert summary["stages"][0]["sent"] == len(records) >= 6


def test_a_stage_with_a_duration_sends_until_its_time_and_lets_open_requests_finish(
    sim: SimProcess, tmp_path: Path
) -> None:
    report = tmp_path / "r"
    truth_before = {g["request_id"] for g in sim.ground_truth_records()}
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
            "2",
            "--duration",
            "2",
            "--sleep-interval",
            "0",
            *LIGHT,
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stage = json.loads((report / "summary.json").read_text())["stages"][0]
    records = read_records(str(report / "requests.jsonl"))
    truth = [g for g in sim.ground_truth_records() if g["request_id"] not in truth_before]
    assert stage["number"] is None and stage["sent"] == len(records) == len(truth) >= 4
    assert {r.status for r in records} == {"ok"}  # those in flight at the end finished
    first = min(g["received_at"] for g in truth)
    assert max(g["received_at"] for g in truth) - first <= 2.0 + 0.05  # nothing sent after the stage's time


def test_workers_started_seconds_apart_all_take_part_cleanly(sim: SimProcess, tmp_path: Path) -> None:
    """Workers on several machines never start at once: started 0, 5 and 10 s apart, the late ones join the
    stage in progress (no crash: their first spawn can come before Locust has assigned their runner), every
    request is accounted for, and every worker ends with the master's quit, no ERROR and no traceback."""
    port = free_port()
    report = tmp_path / "r"
    args = [
        *master_args(port, sim, report),
        "--expect-workers",
        "1",
        "--parallel",
        "1",
        "2",
        "4",
        "--number",
        "20",
        "40",
        "80",
        "--sleep-interval",
        "2",
        *LIGHT,
    ]  # the later --expect-workers wins
    master = subprocess.Popen(locust_command(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for delay_s in (0.0, 5.0, 5.0):
            time.sleep(delay_s)
            (tmp_path / f"w{len(workers)}").mkdir()
            workers += start_workers(port, 1, tmp_path / f"w{len(workers)}")
        _, master_err = master.communicate(timeout=180)
        codes = [worker.wait(30) for worker in workers]
    finally:
        stop_all([master, *workers])
    assert master.returncode == 0 and codes == [0, 0, 0], master_err[-3000:]
    summary = json.loads((report / "summary.json").read_text())
    assert [(s["sent"], s["succeeded"]) for s in summary["stages"]] == [(20, 20), (40, 40), (80, 80)]
    assert sorted(summary["workers"]) == ["0", "1", "2"] and "lost_workers" not in summary
    for index in range(3):
        log = (tmp_path / f"w{index}" / "worker0.log").read_text()
        assert "Traceback" not in log and "ERROR" not in log and "Got quit message from master" in log, log[-2000:]
    assert "joined during stage" in master_err  # the late joiners are named, with what to do
