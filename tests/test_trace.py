"""--trace: a recorded trace sent at its times, with its lengths and shared prompt blocks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.argparsing import BadOption
from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim
from harness.master.stats import percentile
from harness.options import options_from_argv
from harness.records import read_records
from harness.results import LATE_P99_LIMIT_S
from harness.trace import TraceError, read_trace

from common import MODEL, headless


def mooncake_trace(path: Path, requests: int, seconds: float) -> list[dict]:
    """Poisson arrivals; prompts of 3 to 5 blocks whose first two come from a few shared chains."""
    rng = np.random.default_rng(11)
    times_ms = np.sort(rng.choice(int(seconds * 1000), requests, replace=False))  # distinct: one order
    rows = []
    for index, at_ms in enumerate(times_ms):
        chain = int(rng.integers(0, 4))
        blocks = int(rng.integers(3, 6))
        hash_ids = [chain * 100, chain * 100 + 1] + [1000 + index * 10 + k for k in range(blocks - 2)]
        rows.append(
            {
                "timestamp": int(at_ms),
                "input_length": blocks * 512 - int(rng.integers(0, 200)),
                "output_length": int(rng.integers(2, 6)),
                "hash_ids": hash_ids,
            }
        )
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return rows


def test_trace_files_are_read_and_bad_lines_named(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("offset_s,input_tokens,output_tokens\n0.5,100,4\n0.0,50,2\n")
    rows = read_trace(str(tmp_path / "t.csv"))
    assert [(r.offset_s, r.input_tokens) for r in rows] == [(0.0, 50), (0.5, 100)]
    (tmp_path / "bad.jsonl").write_text('{"timestamp": 0, "input_length": 100, "output_length": 4}\n{"timestamp": 5}\n')
    with pytest.raises(TraceError, match="line 2"):
        read_trace(str(tmp_path / "bad.jsonl"))
    with pytest.raises(BadOption) as refused:
        options_from_argv(["--model", "m", "--trace", str(tmp_path / "t.csv"), "--parallel", "4"], "http://127.0.0.1:9")
    assert refused.value.flag == "--parallel"


def test_a_mooncake_trace_arrives_on_its_schedule_with_its_lengths(tmp_path: Path) -> None:
    rows = mooncake_trace(tmp_path / "trace.jsonl", 200, 8.0)
    sim = start_sim(
        ["--fixed", "20", "2", "--model", MODEL, "--enable-prompt-tokens-details"],
        ground_truth=str(tmp_path / "gt.jsonl"),
    )
    try:
        result = run_locust(headless(sim.base_url, tmp_path / "r", "--trace", str(tmp_path / "trace.jsonl")))
        truth = {row["request_id"]: row for row in sim.ground_truth_records()}
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    records = sorted(read_records(str(tmp_path / "r" / "requests.jsonl")), key=lambda r: r.due_s or 0)
    assert len(records) == 200 and {r.status for r in records} == {"ok"}
    start_s = records[0].due_s or 0.0
    offsets_s = [(r.due_s or 0.0) - start_s for r in records]
    expected_s = [(row["timestamp"] - rows[0]["timestamp"]) / 1000 for row in rows]
    assert offsets_s == pytest.approx(expected_s, abs=1e-6)  # each due at its trace time
    late_s = sorted(truth[r.request_id]["received_at"] - (r.due_s or 0.0) for r in records)
    print(f"trace arrivals against schedule (server's kernel stamp): p99 {percentile(late_s, 99) * 1000:.2f} ms")
    assert late_s[0] >= -0.0005 and percentile(late_s, 99) <= LATE_P99_LIMIT_S
    # the product's own bound ("load generator late"); and each record's own lateness is what the server saw
    disagreement_s = [
        abs(truth[r.request_id]["received_at"] - (r.due_s or 0.0) - (r.lateness_s or 0.0)) for r in records
    ]
    assert max(disagreement_s) <= 0.001
    for record, row in zip(records, rows, strict=True):
        seen = truth[record.request_id]
        assert seen["prompt_tokens"] == row["input_length"] and seen["completion_tokens"] == row["output_length"]
    assert sum(truth[r.request_id]["cached_tokens"] for r in records) >= 512 * 100  # shared chains hit
