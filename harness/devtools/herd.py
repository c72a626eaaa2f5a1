"""One sweep stage against the fixed-timing simulator, users starting at once or spread (tests, bench)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.devtools.locustproc import STAGGERED_LOCUSTFILE, run_locust
from harness.devtools.simprocess import start_sim
from harness.devtools.verify import RequestErrors, request_errors
from harness.records import RequestRecord, read_records

MODEL = "Qwen3-Omni-30B-A3B-Instruct"
REQUESTS_PER_USER = 3


@dataclass
class HerdRun:
    """What a stage left: Locust's exit, the records, the ground truth, their differences, the client's CPU."""

    result: subprocess.CompletedProcess[str]
    records: list[RequestRecord]
    truth: list[dict[str, Any]]
    errors: list[RequestErrors]
    client: dict[str, float]  # summary.json "client": cpu_s, wall_s, cpu_percent during load

    @property
    def events(self) -> int:
        """SSE events that carried output, over the successful requests."""
        return sum(len(record.itl_s) + 1 for record in self.records if record.status == "ok" and record.ttft_s)


def run_herd(
    streams: int,
    workdir: Path,
    requests_per_user: int = REQUESTS_PER_USER,
    max_tokens: int = 128,
    ttft_ms: float = 50,
    itl_ms: float = 20,
    spread_s: float = 0.0,
) -> HerdRun:
    """One stage of `streams` users, `requests_per_user` requests each: 1024-token prompts, a
    256x256 image, `max_tokens` output tokens against `--fixed ttft_ms itl_ms`.

    spread_s 0: every user sends in the same instant (a herd, as real sweeps start);
    else user k starts k x spread_s / streams later (the product's user, its start delayed).
    """
    report = workdir / f"stage{streams}-{'herd' if not spread_s else 'spread'}"
    truth_path = workdir / f"truth{streams}-{'herd' if not spread_s else 'spread'}.jsonl"
    sim = start_sim(["--fixed", str(ttft_ms), str(itl_ms), "--model", MODEL], ground_truth=str(truth_path))
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
                str(streams),
                "--number",
                str(streams * requests_per_user),
                "--sleep-interval",
                "0",
                "--max-tokens",
                str(max_tokens),
                "--image-width",
                "256",
                "--image-height",
                "256",
                "--metrics-port",
                "0",
            ],
            locustfile=STAGGERED_LOCUSTFILE,
            env={"OMNILOAD_TEST_STAGGER_S": str(spread_s / streams)},
        )
        truth = sim.ground_truth_records()
    finally:
        sim.stop()
    records = read_records(str(report / "requests.jsonl")) if (report / "requests.jsonl").exists() else []
    summary_path = report / "summary.json"
    client = json.loads(summary_path.read_text())["client"] if summary_path.exists() else {}
    return HerdRun(result, records, truth, request_errors(records, truth), client)
