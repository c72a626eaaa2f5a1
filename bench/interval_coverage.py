"""Do a stage's 95 % intervals hold the long-run value? 50 stages of 100 requests against the simulator.

The simulator (--fixed 20 1 --jitter-ms 40) gives every request a TTFT of 20 ms plus a uniform [0, 40) ms;
the sweep runs 50 stages of 100 requests at 20 users; each stage's summary.json intervals for p50 and
p90 TTFT are checked against the long-run value (all 5,000 requests pooled). A 95 % interval should hold it
in about 95 of the 100 (90 to 99 is the target).

    .venv/bin/python bench/interval_coverage.py
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim
from harness.master.stats import percentile
from harness.records import read_records

STAGES, PER_STAGE, USERS = 50, 100, 20
MODEL = "Qwen3-Omni-30B-A3B-Instruct"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "r"
        sim = start_sim(["--model", MODEL, "--fixed", "20", "1", "--jitter-ms", "40", "--seed", "5"])
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
                    "--metrics-port",
                    "0",
                    "--sleep-interval",
                    "0",
                    "--image-num",
                    "0",
                    "--min-prompt-length",
                    "32",
                    "--max-prompt-length",
                    "32",
                    "--max-tokens",
                    "2",
                    "--parallel",
                    *[str(USERS)] * STAGES,
                    "--number",
                    *[str(PER_STAGE)] * STAGES,
                ]
            )
        finally:
            sim.stop()
        if result.returncode != 0:
            raise SystemExit(result.stderr[-2000:])
        summary = json.loads((report / "summary.json").read_text())
        pooled = sorted(r.ttft_s for r in read_records(str(report / "requests.jsonl")) if r.ttft_s is not None)
        for p in (50, 90):
            long_run = percentile(pooled, p)
            held = sum(
                stage["ttft_s"]["ci"][f"p{p}"][0] <= long_run <= stage["ttft_s"]["ci"][f"p{p}"][1]
                for stage in summary["stages"]
            )
            print(
                f"p{p} TTFT: the long-run value ({long_run * 1000:.1f} ms over {len(pooled)} requests) held by "
                f"{held} of {len(summary['stages'])} stage intervals (target 90-99 %)"
            )


if __name__ == "__main__":
    main()
