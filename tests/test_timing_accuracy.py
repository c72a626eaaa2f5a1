"""Timing accuracy: 50 concurrent streams through real Locust, checked against the simulator's ground truth.

The simulator (`--fixed 50 20`) records, per request, when it took the request in and
when it wrote its first and last tokens. The client's TTFT and TPOT for the same
request (joined on X-Request-Id) must agree: p99 of |client - server| at most 3 ms for
TTFT and 0.5 ms for TPOT.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from conftest import MODEL
from locustproc import REPO, run_locust
from harness.sim.process import start_sim

STREAMS = 50
TTFT_ERROR_P99_LIMIT_S = 0.003
TPOT_ERROR_P99_LIMIT_S = 0.0005
STAGGERED_LOCUSTFILE = str(REPO / "tests" / "locustfiles" / "staggered.py")


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.99 * len(ordered)) - 1]


def test_ttft_and_tpot_match_the_server_at_50_streams(tmp_path: Path) -> None:
    sim = start_sim(["--fixed", "50", "20", "--model", MODEL], ground_truth=str(tmp_path / "gt.jsonl"))
    report = tmp_path / "r"
    try:
        result = run_locust(["--headless", "-u", str(STREAMS), "-r", str(STREAMS), "-t", "12s", "--host", sim.base_url,
                             "--model", MODEL, "--report-dir", str(report), "--max-tokens", "128",
                             "--image-width", "256", "--image-height", "256", "--pool-size", "320"],
                            locustfile=STAGGERED_LOCUSTFILE)  # fmt: skip
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    truth = {g["request_id"]: g for g in sim.ground_truth_records()}
    records = [json.loads(line) for line in (report / "requests.jsonl").read_text().splitlines()]
    assert len(records) >= 150 and {r["status"] for r in records} == {"ok"}
    ttft_errors_s, tpot_errors_s = [], []
    for record in records:
        server = truth[record["request_id"]]
        server_ttft_s = server["first_token_at"] - server["received_at"]
        server_tpot_s = (server["last_token_at"] - server["first_token_at"]) / (server["completion_tokens"] - 1)
        ttft_errors_s.append(abs(record["ttft_s"] - server_ttft_s))
        tpot_errors_s.append(abs(record["tpot_s"] - server_tpot_s))
    print(f"TTFT error p99 {p99(ttft_errors_s) * 1000:.2f} ms, TPOT error p99 {p99(tpot_errors_s) * 1000:.3f} ms")
    assert p99(ttft_errors_s) <= TTFT_ERROR_P99_LIMIT_S
    assert p99(tpot_errors_s) <= TPOT_ERROR_P99_LIMIT_S
