"""Timing accuracy: 50 concurrent streams through real Locust, checked against the simulator's ground truth.

The simulator (`--fixed 50 20`) records, per request, when it took the request in and
when it wrote its first and last tokens. The client's TTFT and TPOT for the same
request (joined on X-Request-Id) must agree: p99 of |client - server| at most 3 ms for
TTFT and 0.5 ms for TPOT.
"""

from __future__ import annotations

from pathlib import Path

from conftest import MODEL
from harness.devtools.locustproc import STAGGERED_LOCUSTFILE, run_locust
from harness.records import read_records
from harness.devtools.simprocess import start_sim
from harness.master.stats import percentile
from harness.devtools.verify import request_errors

STREAMS = 50
TTFT_ERROR_P99_LIMIT_S = 0.003
TPOT_ERROR_P99_LIMIT_S = 0.0005


def p99(values: list[float]) -> float:
    return percentile(sorted(values), 99)


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
    records = read_records(str(report / "requests.jsonl"))
    assert len(records) >= 150 and {r.status for r in records} == {"ok"}
    errors = request_errors(records, sim.ground_truth_records())
    assert len(errors) == len(records)
    ttft_errors_s = [e.ttft_s for e in errors]
    tpot_errors_s = [e.tpot_s for e in errors if e.tpot_s is not None]
    print(f"TTFT error p99 {p99(ttft_errors_s) * 1000:.2f} ms, TPOT error p99 {p99(tpot_errors_s) * 1000:.3f} ms")
    assert p99(ttft_errors_s) <= TTFT_ERROR_P99_LIMIT_S
    assert p99(tpot_errors_s) <= TPOT_ERROR_P99_LIMIT_S
