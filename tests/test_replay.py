"""`omniload replay`: a recorded run's exact bodies sent again at their offsets, then the two compared."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim
from harness.master.stats import percentile
from harness.records import read_records
from harness.results import LATE_P99_LIMIT_S

from common import MODEL, REPO, headless


def _stage_offsets(records: list) -> dict[int, list[float]]:
    by_stage: dict[int, list[float]] = defaultdict(list)
    for record in records:
        by_stage[record.stage].append(record.t_send)
    return {stage: [t - min(times) for t in sorted(times)] for stage, times in by_stage.items()}


def test_a_replay_sends_the_same_bodies_at_the_same_offsets_and_compares(tmp_path: Path) -> None:
    first = start_sim(["--fixed", "15", "3", "--model", MODEL], ground_truth=str(tmp_path / "gt1.jsonl"))
    try:
        recorded = run_locust(
            headless(
                first.base_url,
                tmp_path / "a",
                "--parallel",
                "2",
                "4",
                "--number",
                "8",
                "16",
                "--keep-bodies",
                "--image-width",
                "128",
                "--image-height",
                "128",
                "--min-prompt-length",
                "64",
                "--max-prompt-length",
                "256",
                "--max-tokens",
                "8",
                "--rate",
                "10",
                "20",
            )
        )
        truth_a = {row["request_id"]: row for row in first.ground_truth_records()}
    finally:
        first.stop()
    assert recorded.returncode == 0, recorded.stderr[-2000:]
    second = start_sim(["--fixed", "15", "3", "--model", MODEL], ground_truth=str(tmp_path / "gt2.jsonl"))
    try:
        replayed = subprocess.run(
            [
                sys.executable,
                "-m",
                "harness.cli",
                "replay",
                str(tmp_path / "a"),
                "--host",
                second.base_url,
                "--report-dir",
                str(tmp_path / "b"),
                "--metrics-port",
                "0",
                "--sleep-interval",
                "0",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO,
        )
        truth_b = {row["request_id"]: row for row in second.ground_truth_records()}
    finally:
        second.stop()
    assert replayed.returncode == 0, replayed.stderr[-2000:]
    a = [r for r in read_records(str(tmp_path / "a" / "requests.jsonl")) if not r.warmup]
    b = read_records(str(tmp_path / "b" / "requests.jsonl"))
    assert len(a) == len(b) == 24 and {r.status for r in b} == {"ok"}
    digests_a = Counter(truth_a[r.request_id]["body_digest"] for r in a)
    assert Counter(truth_b[r.request_id]["body_digest"] for r in b) == digests_a and len(digests_a) == 24
    # the replay's schedule is the recording: each request due at its recorded offset in its stage
    offsets_a = _stage_offsets(a)
    dues_b = _stage_offsets([type("R", (), {"stage": r.stage, "t_send": r.due_s}) for r in b])
    assert sorted(offsets_a) == sorted(dues_b)
    for stage, recorded in offsets_a.items():
        assert dues_b[stage] == pytest.approx(recorded, abs=1e-6)
    # and it was kept, as the server stamped each arrival (kernel time) against its due time
    late_s = sorted(truth_b[r.request_id]["received_at"] - (r.due_s or 0.0) for r in b)
    print(
        f"replay arrivals against their recorded offsets (server's stamps): p99 {percentile(late_s, 99) * 1000:.2f} ms"
    )
    assert late_s[0] >= -0.0005 and percentile(late_s, 99) <= LATE_P99_LIMIT_S
    # the product's own bound ("load generator late"); and each record's own lateness is what the server saw
    disagreement_s = [abs(truth_b[r.request_id]["received_at"] - (r.due_s or 0.0) - (r.lateness_s or 0.0)) for r in b]
    assert max(disagreement_s) <= 0.001
    assert (tmp_path / "b" / "comparison.html").is_file()


def test_a_run_without_kept_bodies_cannot_be_replayed(tmp_path: Path) -> None:
    sim = start_sim(["--fixed", "5", "1", "--model", MODEL])
    try:
        run_locust(
            headless(
                sim.base_url,
                tmp_path / "a",
                "--parallel",
                "1",
                "--number",
                "2",
                "--image-num",
                "0",
                "--max-tokens",
                "4",
            )
        )
        replayed = subprocess.run(
            [
                sys.executable,
                "-m",
                "harness.cli",
                "replay",
                str(tmp_path / "a"),
                "--host",
                sim.base_url,
                "--report-dir",
                str(tmp_path / "b"),
                "--metrics-port",
                "0",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
        )
        sent = len(sim.ground_truth_records()) if sim.ground_truth else None
    finally:
        sim.stop()
    assert replayed.returncode == 2 and "--replay: " in replayed.stderr and "--keep-bodies" in replayed.stderr
    assert sent is None
