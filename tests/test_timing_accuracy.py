"""Timing accuracy: 50 concurrent streams through real Locust, checked against the simulator's ground truth.

The simulator (`--fixed 50 20`) records, per request, when it took the request in and
when it wrote its first and last tokens. The client's TTFT and TPOT for the same
request (joined on X-Request-Id) must agree: p99 of |client - server| at most 3 ms for
TTFT and 0.5 ms for TPOT.
"""

from __future__ import annotations

from pathlib import Path

from harness.devtools.herd import REQUESTS_PER_USER, run_herd
from harness.devtools.locustproc import STAGGERED_LOCUSTFILE, run_locust
from harness.devtools.simprocess import start_sim
from harness.devtools.verify import request_errors
from harness.master.stats import percentile
from harness.records import read_records

from common import MODEL

STREAMS = 50
TTFT_ERROR_P99_LIMIT_S = 0.003
TPOT_ERROR_P99_LIMIT_S = 0.0005


def p99(values: list[float]) -> float:
    return percentile(sorted(values), 99)


def test_ttft_and_tpot_match_the_server_at_50_streams(tmp_path: Path) -> None:
    sim = start_sim(["--fixed", "50", "20", "--model", MODEL], ground_truth=str(tmp_path / "gt.jsonl"))
    report = tmp_path / "r"
    try:
        result = run_locust(
            [
                "--headless",
                "-u",
                str(STREAMS),
                "-r",
                str(STREAMS),
                "-t",
                "12s",
                "--host",
                sim.base_url,
                "--model",
                MODEL,
                "--report-dir",
                str(report),
                "--max-tokens",
                "128",
                "--image-width",
                "256",
                "--image-height",
                "256",
                "--pool-size",
                "320",
            ],
            locustfile=STAGGERED_LOCUSTFILE,
        )
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    records = read_records(str(report / "requests.jsonl"))
    assert len(records) >= 150 and {r.status for r in records} == {"ok"}
    errors = request_errors(records, sim.ground_truth_records())
    assert len(errors) == len(records)
    ttft_errors_s = [e.ttft_s for e in errors]
    tpot_errors_s = [e.tpot_s for e in errors if e.tpot_s is not None]
    print(
        f"TTFT error p99 {p99(ttft_errors_s) * 1000:.2f} ms (send side {p99([e.send_s for e in errors]) * 1000:.2f}, "
        f"receive side {p99([e.receive_s for e in errors]) * 1000:.2f}), TPOT error p99 "
        f"{p99(tpot_errors_s) * 1000:.3f} ms"
    )
    assert p99(ttft_errors_s) <= TTFT_ERROR_P99_LIMIT_S
    assert p99(tpot_errors_s) <= TPOT_ERROR_P99_LIMIT_S


def test_a_herd_of_50_users_starting_at_once_is_timed_as_the_server_saw_it(tmp_path: Path) -> None:
    """A sweep stage: all 50 users send in the same instant, as real sweeps do (no staggering)."""
    run = run_herd(STREAMS, tmp_path)
    assert run.result.returncode == 0, run.result.stderr[-2000:]
    assert len(run.errors) == len(run.records) == STREAMS * REQUESTS_PER_USER
    first_wave = sorted(record.t_send for record in run.records)[:STREAMS]
    assert first_wave[-1] - first_wave[0] < 0.1  # a herd indeed: the first 50 went out within 100 ms
    ttft_errors_s = [e.ttft_s for e in run.errors]
    print(
        f"herd: TTFT error p99 {p99(ttft_errors_s) * 1000:.2f} ms, "
        f"send side p99 {p99([e.send_s for e in run.errors]) * 1000:.2f} ms"
    )
    assert p99(ttft_errors_s) <= TTFT_ERROR_P99_LIMIT_S
