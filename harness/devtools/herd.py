"""One sweep stage whose users all start at once, against the fixed-timing simulator (tests, bench)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim
from harness.devtools.verify import RequestErrors, request_errors
from harness.records import RequestRecord, read_records

MODEL = "Qwen3-Omni-30B-A3B-Instruct"
REQUESTS_PER_USER = 3


@dataclass
class HerdRun:
    """What a herd run left: Locust's exit, the records, the ground truth and their differences."""

    result: subprocess.CompletedProcess[str]
    records: list[RequestRecord]
    truth: list[dict[str, Any]]
    errors: list[RequestErrors]


def run_herd(streams: int, workdir: Path) -> HerdRun:
    """`streams` users at once, 3 requests each: 1024-token prompts, a 256x256 image, 128 output tokens,
    against `--fixed 50 20` (TTFT 50 ms, ITL 20 ms)."""
    report = workdir / f"herd{streams}"
    sim = start_sim(["--fixed", "50", "20", "--model", MODEL], ground_truth=str(workdir / f"truth{streams}.jsonl"))
    try:
        result = run_locust(["--headless", "--host", sim.base_url, "--model", MODEL, "--report-dir", str(report),
                             "--parallel", str(streams), "--number", str(streams * REQUESTS_PER_USER),
                             "--sleep-interval", "0", "--max-tokens", "128", "--image-width", "256",
                             "--image-height", "256", "--metrics-port", "0"])  # fmt: skip
        truth = sim.ground_truth_records()
    finally:
        sim.stop()
    records = read_records(str(report / "requests.jsonl")) if (report / "requests.jsonl").exists() else []
    return HerdRun(result, records, truth, request_errors(records, truth))
