"""Real Locust processes against the simulator: files written, flags honoured, bad input refused."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from harness.devtools.locustproc import locust_command, run_locust
from harness.devtools.promserver import free_port
from harness.devtools.simprocess import SimProcess, start_sim

from common import MODEL

SECRET = "sk-omniload-test-SECRET-4242"


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_headless_run_writes_summary_and_one_record_per_request(tmp_path: Path) -> None:
    sim = start_sim(["--fixed", "20", "2", "--model", MODEL], ground_truth=str(tmp_path / "gt.jsonl"))
    report = tmp_path / "report"
    try:
        result = run_locust(
            [
                "--headless",
                "-u",
                "4",
                "-r",
                "4",
                "-t",
                "3s",
                "--host",
                sim.base_url,
                "--model",
                MODEL,
                "--api-key",
                SECRET,
                "--report-dir",
                str(report),
                "--max-tokens",
                "16",
                "--min-prompt-length",
                "256",
                "--max-prompt-length",
                "256",
                "--image-width",
                "128",
                "--image-height",
                "96",
                "--pool-size",
                "400",
            ]
        )
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((report / "summary.json").read_text())
    records = load(report / "requests.jsonl")
    truth = {g["request_id"]: g for g in sim.ground_truth_records()}
    assert summary["model"] == MODEL and len(summary["stages"]) == 1
    assert summary["stages"][0]["parallel"] == 4  # -u 4
    stage = summary["stages"][0]
    assert stage["sent"] == stage["succeeded"] == len(records) >= 8
    assert set(stage["ttft_s"]) == {"mean", "min", "p50", "p90", "p95", "p99", "max", "n", "std", "ci", "few"}
    assert stage["completion_tokens"]["min"] == stage["completion_tokens"]["max"] == 16
    assert summary["tokenize_check"] == {"expected": 256, "server": 256, "match": True}
    assert summary["payloads"]["reused"] == 0
    # every request reached the server under its own id, with exactly the asked prompt and image
    assert {r["request_id"] for r in records} == set(truth)
    assert {g["text_tokens"] for g in truth.values()} == {256}
    assert {json.dumps(g["images"]) for g in truth.values()} == {json.dumps([[128, 96, "RGB", "PNG"]])}
    assert {(r["status"], r["completion_tokens"], r["expected_text_tokens"]) for r in records} == {("ok", 16, 256)}
    assert "Avg TTFT(ms)" in result.stdout
    for text in (
        result.stdout,
        result.stderr,
        (report / "summary.json").read_text(),
        (report / "requests.jsonl").read_text(),
    ):
        assert SECRET not in text


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--min-prompt-length", "300", "--max-prompt-length", "200"], "--max-prompt-length"),
        (["--image-format", "RGBA", "--image-encoding", "jpeg"], "--image-format"),
        (["--extra-args", "{not json"], "--extra-args"),
        (["--min-prompt-length", "4", "--max-prompt-length", "4"], "--min-prompt-length"),
        (["-u", "0"], "-u"),
        (["--seed", "-1"], "--seed"),
        (["--temperature", "inf"], "--temperature"),
        (["--extra-args", '{"stream": false}'], "--extra-args"),
        (["--image-num", "1000"], "--image-num"),
        (["--max-prompt-length", "10000000"], "--max-prompt-length"),
        (["--image-width", "16384", "--image-height", "16384"], "--image-width"),
        # longer than the server's max_model_len, which its /tokenize reports
        (["--min-prompt-length", "60000", "--max-prompt-length", "60000", "--image-num", "0"], "--max-prompt-length"),
        (["--omnibench", "--omnibench-dataset", "/no/such/dataset.parquet"], "--omnibench-dataset"),
    ],
)
def test_bad_input_exits_2_with_one_line_before_any_request(tmp_path: Path, argv: list[str], flag: str) -> None:
    sim = start_sim(["--fixed", "10", "1", "--model", MODEL], ground_truth=str(tmp_path / "gt.jsonl"))
    try:
        result = run_locust(
            [
                "--headless",
                "-u",
                "2",
                "-r",
                "2",
                "-t",
                "2s",
                "--host",
                sim.base_url,
                "--model",
                MODEL,
                "--report-dir",
                str(tmp_path / "r"),
                *argv,
            ]
        )
    finally:
        sim.stop()
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("omniload: error:")]
    assert len(errors) == 1 and errors[0].startswith(f"omniload: error: {flag}: ")
    assert "Traceback" not in result.stderr
    assert sim.ground_truth_records() == []


def test_flags_from_environment_and_config_file(tmp_path: Path) -> None:
    sim = start_sim(["--fixed", "10", "1", "--model", MODEL], ground_truth=str(tmp_path / "gt.jsonl"))
    config = tmp_path / "locust.conf"
    config.write_text(f"model = {MODEL}\nmax-tokens = 6\nimage-num = 0\nheadless = true\n")
    try:
        result = run_locust(
            [
                "--config",
                str(config),
                "-u",
                "2",
                "-r",
                "2",
                "-t",
                "2s",
                "--host",
                sim.base_url,
                "--report-dir",
                str(tmp_path / "r"),
            ],
            env={"LOCUST_MIN_PROMPT_LENGTH": "64", "LOCUST_MAX_PROMPT_LENGTH": "64"},
        )
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    truth = sim.ground_truth_records()
    assert truth and {(g["text_tokens"], g["completion_tokens"], g["image_tokens"]) for g in truth} == {(64, 6, 0)}


def test_server_faults_are_counted_and_fail_the_run(tmp_path: Path) -> None:
    sim = start_sim(
        [
            "--fixed",
            "10",
            "1",
            "--model",
            MODEL,
            "--faults",
            "http_503",
            "disconnect@2",
            "--fault-rate",
            "0.5",
            "--seed",
            "3",
        ],
        ground_truth=str(tmp_path / "gt.jsonl"),
    )
    report = tmp_path / "r"
    try:
        result = run_locust(
            [
                "--headless",
                "-u",
                "3",
                "-r",
                "3",
                "-t",
                "2s",
                "--host",
                sim.base_url,
                "--model",
                MODEL,
                "--report-dir",
                str(report),
                "--max-tokens",
                "8",
                "--image-num",
                "0",
                "--min-prompt-length",
                "64",
                "--max-prompt-length",
                "64",
            ]
        )
    finally:
        sim.stop()
    assert result.returncode == 1
    records = load(report / "requests.jsonl")
    stage = json.loads((report / "summary.json").read_text())["stages"][0]
    reasons = [r["error"]["reason"] for r in records if r["status"] == "error"]
    assert stage["errors"] == {reason: reasons.count(reason) for reason in set(reasons)}
    assert set(reasons) == {"http_503", "stream_truncated"}
    assert stage["succeeded"] + stage["failed"] == stage["sent"] == len(records) == len(sim.ground_truth_records())


def test_an_unreachable_server_is_refused_before_load(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_locust(
        [
            "--headless",
            "-u",
            "1",
            "-r",
            "1",
            "-t",
            "2s",
            "--host",
            f"http://127.0.0.1:{port}",
            "--model",
            MODEL,
            "--report-dir",
            str(tmp_path / "r"),
        ]
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("omniload: error:")]
    assert errors == [f"omniload: error: --host: cannot connect to 127.0.0.1:{port} (Connection refused)"]


def test_an_outage_is_backed_off_and_its_length_reported(tmp_path: Path) -> None:
    """The server dies for ~3 s mid-run: users back off instead of spinning, and the summary says how long."""
    port = free_port()
    sim = start_sim(["--fixed", "10", "1", "--model", MODEL], port=port)
    report = tmp_path / "r"
    locust = subprocess.Popen(
        locust_command(
            [
                "--headless",
                "-u",
                "4",
                "-r",
                "4",
                "-t",
                "10s",
                "--host",
                sim.base_url,
                "--model",
                MODEL,
                "--report-dir",
                str(report),
                "--max-tokens",
                "8",
                "--image-num",
                "0",
                "--min-prompt-length",
                "32",
                "--max-prompt-length",
                "32",
            ]
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        requests = report / "requests.jsonl"
        while time.monotonic() < deadline and not (requests.exists() and requests.stat().st_size):
            time.sleep(0.05)
        os.kill(sim.process.pid, signal.SIGKILL)
        killed_s = time.monotonic()
        sim.process.wait(10)
        time.sleep(3.0)
        sim = start_sim(["--fixed", "10", "1", "--model", MODEL], port=port)
        outage_s = time.monotonic() - killed_s  # the restart itself takes a few seconds too
        stdout, stderr = locust.communicate(timeout=120)
    finally:
        sim.stop()
    records = [json.loads(line) for line in requests.read_text().splitlines()]
    refused = [r for r in records if r["status"] == "error" and r["error"]["reason"] == "connect_error"]
    # waits of 0.05, 0.1, 0.2, 0.4, 0.8, then 1 s: a few tries per user and second, not thousands
    assert 4 <= len(refused) <= 4 * (5 + outage_s), (len(refused), outage_s)
    assert records[-1]["status"] == "ok"  # and the run went on once the server was back
    summary = json.loads((report / "summary.json").read_text())
    # from the first refused request to the first one served: the outage, give or take one wait
    assert outage_s - 1.5 <= summary["unreachable_s"] <= outage_s + 1.0, (summary["unreachable_s"], outage_s)
    assert locust.returncode == 1 and "could not be reached for" in stdout


def test_a_plain_run_longer_than_its_pool_sends_only_fresh_payloads(tmp_path: Path) -> None:
    sim = start_sim(["--fixed", "5", "1", "--model", MODEL], ground_truth=str(tmp_path / "gt.jsonl"))
    report = tmp_path / "r"
    try:
        result = run_locust(
            [
                "--headless",
                "-u",
                "4",
                "-r",
                "4",
                "-t",
                "4s",
                "--host",
                sim.base_url,
                "--model",
                MODEL,
                "--report-dir",
                str(report),
                "--max-tokens",
                "8",
                "--image-width",
                "32",
                "--image-height",
                "32",
                "--min-prompt-length",
                "32",
                "--max-prompt-length",
                "32",
                "--pool-size",
                "8",
            ]
        )
        truth = sim.ground_truth_records()
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    payloads = json.loads((report / "summary.json").read_text())["payloads"]
    records = [json.loads(line) for line in (report / "requests.jsonl").read_text().splitlines()]
    assert len(records) == len(truth) > 8 * 3  # several times the pool
    assert payloads["reused"] == 0 and payloads["built_during_load"] >= len(records) - 8


def test_goodput_is_the_count_of_records_meeting_every_slo(tmp_path: Path) -> None:
    # half the requests wait 0.5 s before their headers: a TTFT bound of 200 ms splits the run on any machine
    sim = start_sim(["--model", MODEL, "--fixed", "20", "2", "--faults", "delay:0.5", "--fault-rate", "0.5"])
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
                "--parallel",
                "6",
                "--number",
                "18",
                "--sleep-interval",
                "0",
                "--max-tokens",
                "16",
                "--image-num",
                "0",
                "--min-prompt-length",
                "512",
                "--max-prompt-length",
                "512",
                "--goodput",
                "ttft:200",
                "e2el:5000",
            ]
        )
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    stage = json.loads((report / "summary.json").read_text())["stages"][0]
    records = [json.loads(line) for line in (report / "requests.jsonl").read_text().splitlines()]
    good = [r for r in records if r["status"] == "ok" and r["ttft_s"] <= 0.2 and r["latency_s"] <= 5.0]
    ttfts_ms = sorted(round(r["ttft_s"] * 1000) for r in records if r["ttft_s"] is not None)
    assert 0 < stage["good_requests"] == len(good) < len(records), ttfts_ms  # the SLOs split this run
    assert stage["goodput_rps"] == pytest.approx(len(good) / stage["wall_time_s"])
    assert "Goodput" in result.stdout, result.stdout[-2000:]


def test_one_token_outputs_meet_any_tpot_goodput_as_in_vllm(fixed_sim: SimProcess, tmp_path: Path) -> None:
    """vLLM counts a 1-token output's TPOT as 0 for goodput: every success is good under tpot:1 (1 ms)."""
    result = run_locust(
        [
            "--headless",
            "--host",
            fixed_sim.base_url,
            "--model",
            MODEL,
            "--report-dir",
            str(tmp_path),
            "--parallel",
            "2",
            "--number",
            "6",
            "--sleep-interval",
            "0",
            "--max-tokens",
            "1",
            "--image-num",
            "0",
            "--min-prompt-length",
            "32",
            "--max-prompt-length",
            "32",
            "--goodput",
            "tpot:1",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stage = json.loads((tmp_path / "summary.json").read_text())["stages"][0]
    assert stage["good_requests"] == stage["succeeded"] == 6 and stage["tpot_s"]["p50"] is None


def test_a_headless_sweep_is_quiet_unless_asked(fixed_sim: SimProcess, tmp_path: Path) -> None:
    """Stage tables and progress; Locust's table every 2 s only with --print-stats (its final table stays)."""
    args = [
        "--headless",
        "--host",
        fixed_sim.base_url,
        "--model",
        MODEL,
        "--report-dir",
        str(tmp_path),
        "--parallel",
        "2",
        "--number",
        "24",  # 12 rounds of 0.35 s: past Locust's 2 s stats interval twice
        "--max-tokens",
        "64",
        "--image-num",
        "0",
        "--min-prompt-length",
        "32",
        "--max-prompt-length",
        "32",
    ]
    quiet = run_locust(args)
    loud = run_locust([*args, "--print-stats"])
    assert quiet.returncode == loud.returncode == 0, quiet.stderr[-2000:]
    assert "omniload stage 1/1" in quiet.stdout and "stage 1/1: " in quiet.stdout  # the table and the progress
    tables = [(run.stdout + run.stderr).count("Aggregated") for run in (quiet, loud)]
    assert tables[0] == 2 < tables[1]  # Locust's final two tables only / and its periodic ones when asked
