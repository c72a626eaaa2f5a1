"""How many concurrent streams one Locust worker process times faithfully, and at what CPU cost.

For each level of concurrency, a real headless Locust process (one process = one
worker's worth of users) streams from the simulator in `--fixed TTFT ITL` mode; each
user sends one request of 1024 prompt tokens and 1024 output tokens (the defaults) with
a 256x256 image, and starts are spread over the first second. Client and simulator are
joined on X-Request-Id: TTFT error = |client TTFT - server TTFT| per request (the server
stamps a request when its headers are parsed, its tokens when written). The error's two
halves are shown apart: "send" is request written -> simulator stamped it (grows when
the simulator, on the same cores, falls behind taking requests in), "recv err" is token
written -> client stamped it (the client's own receive-side error). Also prints the
client's CPU seconds during load (from summary.json) per 1,000 requests, and the time to
build 1,000 payloads at the defaults (1024-token prompts, one 512x512 noise PNG each).

Both processes share this machine's cores, so the simulator's own load is part of every
figure; the level where p99 TTFT error passes 5 ms is a lower bound for a dedicated
load generator.

    .venv/bin/python bench/client_fidelity.py [--levels 50 100 200] [--itl-ms 40] [--tokens 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from harness.devtools.locustproc import STAGGERED_LOCUSTFILE, run_locust
from harness.master import stats
from harness.records import read_records
from harness.devtools.simprocess import start_sim
from harness.devtools.verify import request_errors

MODEL = "Qwen3-Omni-30B-A3B-Instruct"
ERROR_LIMIT_S = 0.005
POOL_BENCH_PAYLOADS = 1000


def percentile(values: list[float], p: float) -> float:
    return stats.percentile(sorted(values), p)


def run_level(streams: int, args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    truth_path = workdir / f"gt-{streams}.jsonl"
    report = workdir / f"report-{streams}"
    sim = start_sim(["--fixed", str(args.ttft_ms), str(args.itl_ms), "--model", MODEL], ground_truth=str(truth_path))
    try:
        result = run_locust(["--headless", "-u", str(streams), "-r", str(streams), "-t", "2s", "--host", sim.base_url,
                             "--model", MODEL, "--report-dir", str(report), "--max-tokens", str(args.tokens),
                             "--image-width", "256", "--image-height", "256", "--pool-size", str(streams)],
                            locustfile=STAGGERED_LOCUSTFILE, env={"OMNILOAD_TEST_STAGGER_S": str(1.0 / streams)})  # fmt: skip
    finally:
        sim.stop()
    if result.returncode not in (0, 1):
        raise SystemExit(f"locust failed at {streams} streams:\n{result.stderr[-2000:]}")
    records = read_records(str(report / "requests.jsonl"))
    ok = [r for r in records if r.status == "ok"]
    errors = request_errors(records, sim.ground_truth_records())
    ttft_errors = [e.ttft_s for e in errors]
    send_delays = [e.send_s for e in errors]
    receive_errors = [e.receive_s for e in errors]
    tpot_errors = [e.tpot_s for e in errors if e.tpot_s is not None]
    client = json.loads((report / "summary.json").read_text())["client"]
    events = sum(len(r.itl_s) + 1 for r in ok)
    return {
        "streams": streams,
        "requests": len(records),
        "failed": len(records) - len(ok),
        "ttft_err_p50_ms": percentile(ttft_errors, 50) * 1000,
        "ttft_err_p99_ms": percentile(ttft_errors, 99) * 1000,
        "send_p99_ms": percentile(send_delays, 99) * 1000,
        "receive_err_p99_ms": percentile(receive_errors, 99) * 1000,
        "tpot_err_p99_ms": percentile(tpot_errors, 99) * 1000,
        "events_per_s": events / client["wall_s"],
        "client_cpu_percent": client["cpu_percent"],
        "cpu_s_per_1000_requests": client["cpu_s"] / max(1, len(records)) * 1000,
    }


def pool_build_s() -> float:
    from harness.options import options_from_argv
    from harness.load.payloads import build_payloads
    from harness.tokenizer import load_tokenizer

    options = options_from_argv(["--model", MODEL, "--image-content", "noise"], "http://127.0.0.1:9")
    tokenizer = load_tokenizer()
    started_s = time.perf_counter()
    build_payloads(options.payload, MODEL, tokenizer, POOL_BENCH_PAYLOADS, seed=0, prefix_seed=0)
    return time.perf_counter() - started_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--ttft-ms", type=float, default=100.0)
    parser.add_argument("--itl-ms", type=float, default=40.0)
    parser.add_argument("--tokens", type=int, default=1024)
    args = parser.parse_args()
    print(f"os.cpu_count()={os.cpu_count()}; simulator --fixed {args.ttft_ms} {args.itl_ms}, {args.tokens} output tokens")
    print(f"{'streams':>7} {'reqs':>5} {'fail':>4} {'TTFT err p50':>12} {'p99':>8} {'send p99':>9} "
          f"{'recv err p99':>12} {'TPOT err p99':>12} {'events/s':>8} {'client CPU':>10} {'CPU s/1000 req':>14}")  # fmt: skip
    sustained = 0
    with tempfile.TemporaryDirectory() as workdir:
        for streams in args.levels:
            row = run_level(streams, args, Path(workdir))
            print(f"{row['streams']:>7} {row['requests']:>5} {row['failed']:>4} {row['ttft_err_p50_ms']:>9.2f} ms "
                  f"{row['ttft_err_p99_ms']:>5.1f} ms {row['send_p99_ms']:>6.1f} ms {row['receive_err_p99_ms']:>9.2f} ms "
                  f"{row['tpot_err_p99_ms']:>9.3f} ms {row['events_per_s']:>8.0f} "
                  f"{row['client_cpu_percent']:>9.0f}% {row['cpu_s_per_1000_requests']:>14.1f}", flush=True)  # fmt: skip
            if row["ttft_err_p99_ms"] <= ERROR_LIMIT_S * 1000 and not row["failed"]:
                sustained = streams
    print(f"largest level with p99 TTFT error <= {ERROR_LIMIT_S * 1000:.0f} ms: {sustained} streams")
    print(f"payload pool: {POOL_BENCH_PAYLOADS} payloads at the defaults built in {pool_build_s():.1f} s")


if __name__ == "__main__":
    main()
