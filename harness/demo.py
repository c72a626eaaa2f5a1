"""`make demo`: everything omniload does so far, against the built-in simulated vLLM server.

1. starts the simulator (continuous-batching timing, ground-truth file on);
2. runs real Locust, headless, with the default payload (1024-token prompts, one
   512x512 noise PNG each, exactly M output tokens), printing omniload's stage table;
3. checks the run against the simulator's ground truth, request by request: TTFT as
   the client measured it vs. as the server did it, prompt and image tokens.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

from harness.sim.config import DEFAULT_MODEL
from harness.sim.process import start_sim
from harness.records import read_records
from harness.summary import REQUESTS_FILE, SUMMARY_FILE

LOCUSTFILE = str(Path(__file__).resolve().parent.parent / "locustfiles" / "omni_chat.py")
DEMO_USERS = 8
DEMO_RUN_TIME = "15s"
DEMO_OUTPUT_TOKENS = 128
DEMO_POOL_SIZE = 120
LOCUST_DEADLINE_S = 300.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8801, help="simulator port (0: any free one)")
    parser.add_argument("--report-dir", default="results/demo")
    args = parser.parse_args(argv)
    report_dir = Path(args.report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    for stale in (SUMMARY_FILE, REQUESTS_FILE, "sim_ground_truth.jsonl"):
        (report_dir / stale).unlink(missing_ok=True)
    ground_truth = str(report_dir / "sim_ground_truth.jsonl")

    print("[demo] 1/3 starting the simulated vLLM server (Qwen3-Omni timing estimates, continuous batching)")
    sim = start_sim(["--model", DEFAULT_MODEL], ground_truth=ground_truth, port=args.port)
    print(f"[demo]     {sim.base_url} (pid {sim.process.pid}), ground truth -> {ground_truth}")
    try:
        command = [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--headless", "--only-summary",
                   "-u", str(DEMO_USERS), "-r", str(DEMO_USERS), "-t", DEMO_RUN_TIME, "--host", sim.base_url,
                   "--model", DEFAULT_MODEL, "--max-tokens", str(DEMO_OUTPUT_TOKENS),
                   "--pool-size", str(DEMO_POOL_SIZE), "--report-dir", str(report_dir)]  # fmt: skip
        print("[demo] 2/3 load through real Locust:\n       " + shlex.join(["locust", *command[3:]]))
        locust_exit = subprocess.run(command, timeout=LOCUST_DEADLINE_S).returncode
    finally:
        sim.stop()
    print(f"[demo]     locust exit code {locust_exit}")
    print("[demo] 3/3 the same requests as the server saw them (joined on X-Request-Id):")
    check_against_ground_truth(report_dir, ground_truth)
    print("[demo] still to come: sweeps over concurrency, live Prometheus/Grafana, OmniBench, HTML report")
    return locust_exit


def check_against_ground_truth(report_dir: Path, ground_truth: str) -> None:
    records = read_records(str(report_dir / REQUESTS_FILE))
    truth = {g["request_id"]: g for g in read_records(ground_truth)}
    ok = [r for r in records if r["status"] == "ok" and r["request_id"] in truth]
    if not ok:
        print("[demo]     no successful requests to compare")
        return
    errors_ms = sorted(abs(r["ttft_s"] - (truth[r["request_id"]]["first_token_at"] - truth[r["request_id"]]["received_at"]))
                       * 1000 for r in ok)  # fmt: skip
    print(f"[demo]     {len(ok)} requests: |client TTFT - server TTFT| median {errors_ms[len(errors_ms) // 2]:.2f} ms, "
          f"max {errors_ms[-1]:.2f} ms")  # fmt: skip
    text_tokens = sorted({truth[r["request_id"]]["text_tokens"] for r in ok})
    image_tokens = sorted({truth[r["request_id"]]["image_tokens"] for r in ok})
    completion = sorted({r["completion_tokens"] for r in ok})
    print(f"[demo]     server counted text tokens {text_tokens}, image tokens {image_tokens}; "
          f"completion tokens {completion}")  # fmt: skip
    print(f"[demo]     files: {report_dir / SUMMARY_FILE}, {report_dir / REQUESTS_FILE} ({len(records)} lines)")
    example = {key: ok[0][key] for key in ("request_id", "ttft_s", "tpot_s", "latency_s", "prompt_tokens",
                                           "multimodal_tokens", "completion_tokens", "status")}  # fmt: skip
    print("[demo]     one record: " + json.dumps(example))


if __name__ == "__main__":
    sys.exit(main())
