"""`make demo`: everything omniload does so far, against the built-in simulated vLLM server.

1. starts the simulator (continuous-batching timing, ground-truth file on);
2. runs a sweep through real Locust, headless (`--parallel 1 4 8 --number 4 8 16`) with
   the default payload (1024-token prompts, one 512x512 noise PNG each, exactly M output
   tokens), printing a table per stage, the best configuration and recommendations,
   then the OmniBench pass on the bundled samples (the simulator answers them from an
   answer key, right for 75 % of them);
3. checks the run against the simulator's ground truth: requests and peak concurrency
   per stage as the server saw them, TTFT as the client measured it vs. as the server
   did it, and the prompt, image and output tokens the server counted.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

from harness.sim.config import DEFAULT_MODEL
from harness.sim.process import start_sim
from harness.omnibench.dataset import bundled_sample_path
from harness.records import read_records
from harness.report import STAGES_CSV
from harness.summary import REQUESTS_FILE, SUMMARY_FILE
from harness.verify import request_errors, stages_seen

LOCUSTFILE = str(Path(__file__).resolve().parent.parent / "locustfiles" / "omni_chat.py")
DEMO_PARALLEL = ("1", "4", "8")
DEMO_NUMBER = ("4", "8", "16")
DEMO_OUTPUT_TOKENS = 64
DEMO_SLEEP_INTERVAL_S = "1"
DEMO_ANSWER_ACCURACY = "0.75"
LOCUST_DEADLINE_S = 300.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8801, help="simulator port (0: any free one)")
    parser.add_argument("--report-dir", default="results/demo")
    args = parser.parse_args(argv)
    report_dir = Path(args.report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    for stale in (SUMMARY_FILE, REQUESTS_FILE, STAGES_CSV, "sim_ground_truth.jsonl"):
        (report_dir / stale).unlink(missing_ok=True)
    ground_truth = str(report_dir / "sim_ground_truth.jsonl")

    print("[demo] 1/3 starting the simulated vLLM server (Qwen3-Omni timing estimates, continuous batching)")
    sim = start_sim(["--model", DEFAULT_MODEL, "--answer-key", bundled_sample_path(), "--answer-accuracy",
                     DEMO_ANSWER_ACCURACY], ground_truth=ground_truth, port=args.port)  # fmt: skip
    print(f"[demo]     {sim.base_url} (pid {sim.process.pid}), ground truth -> {ground_truth}")
    try:
        command = [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--headless", "--only-summary",
                   "--host", sim.base_url, "--model", DEFAULT_MODEL, "--parallel", *DEMO_PARALLEL,
                   "--number", *DEMO_NUMBER, "--max-tokens", str(DEMO_OUTPUT_TOKENS),
                   "--sleep-interval", DEMO_SLEEP_INTERVAL_S, "--report-dir", str(report_dir),
                   "--omnibench", "--omnibench-concurrency", "4"]  # fmt: skip
        print("[demo] 2/3 load through real Locust:\n       " + shlex.join(["locust", *command[3:]]))
        locust_exit = subprocess.run(command, timeout=LOCUST_DEADLINE_S).returncode
    finally:
        sim.stop()
    print(f"[demo]     locust exit code {locust_exit}")
    print("[demo] 3/3 the same requests as the server saw them (joined on X-Request-Id):")
    check_against_ground_truth(report_dir, ground_truth)
    print("[demo] still to come: live Prometheus/Grafana and the HTML report")
    return locust_exit


def check_against_ground_truth(report_dir: Path, ground_truth: str) -> None:
    records = read_records(str(report_dir / REQUESTS_FILE))
    load_ids = {record["request_id"] for record in records}
    truth = [g for g in read_records(ground_truth) if g["request_id"] in load_ids]  # not OmniBench's requests
    for stage, seen in sorted(stages_seen(records, truth).items()):
        print(f"[demo]     stage {stage + 1}: the server got {seen.requests} requests, at most "
              f"{seen.peak_in_flight} at a time")  # fmt: skip
    errors_ms = sorted(error.ttft_s * 1000 for error in request_errors(records, truth))
    if errors_ms:
        print(f"[demo]     |client TTFT - server TTFT| over {len(errors_ms)} requests: median "
              f"{errors_ms[len(errors_ms) // 2]:.2f} ms, max {errors_ms[-1]:.2f} ms")  # fmt: skip
    ok_ids = {r["request_id"] for r in records if r["status"] == "ok"}
    counted = {(g["text_tokens"], g["image_tokens"], g["completion_tokens"]) for g in truth if g["request_id"] in ok_ids}
    print(f"[demo]     server-side (text, image, output) tokens per request: {sorted(counted)}")
    files = ", ".join(str(report_dir / name) for name in (SUMMARY_FILE, STAGES_CSV, REQUESTS_FILE,
                                                          "omnibench/summary.json", "omnibench/samples.jsonl"))  # fmt: skip
    print(f"[demo]     files: {files} ({len(records)} records)")


if __name__ == "__main__":
    sys.exit(main())
