"""How many concurrent streams one load-generating process times faithfully, and its CPU per SSE event.

For each level N and each start (herd: every user of the stage sends in the same instant,
as real sweeps start; spread: user k starts k x ITL / N later), a real headless Locust
process (one process = one worker's worth of users; the master side runs in it too) runs
one sweep stage of N users, one request each: a 1024-token prompt, a 256x256 image and
`--tokens` output tokens against the simulator in `--fixed TTFT ITL` mode. Client and
simulator are joined on X-Request-Id; the simulator stamps arrivals with the kernel's
receive time (SO_TIMESTAMPNS), so its ground truth holds under a herd.

TTFT error = |client TTFT - server TTFT| per request, in two halves: "send" = request
written -> server's kernel stamp, "recv" = first token written -> client's kernel stamp.
µs/event = the process's CPU during load (payloads are all built before load in a
sweep) / output events received. Both processes share this machine's cores, so the
simulator's own load is in every figure: the largest level kept under the limit is a
lower bound for a dedicated load generator.

    .venv/bin/python bench/client_fidelity.py [--levels 50 100 200 400] [--itl-ms 20] [--tokens 512]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from harness.devtools.herd import run_herd
from harness.master.stats import percentile

ERROR_LIMIT_MS = 2.0
STARTS = ("herd", "spread")


def ms(values: list[float], p: float) -> float:
    return percentile(sorted(values), p) * 1000 if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--ttft-ms", type=float, default=100.0)
    parser.add_argument("--itl-ms", type=float, default=20.0)
    parser.add_argument("--tokens", type=int, default=512)
    args = parser.parse_args()
    print(
        f"os.cpu_count()={os.cpu_count()}; simulator --fixed {args.ttft_ms:g} {args.itl_ms:g}, {args.tokens} output "
        f"tokens, one request per user"
    )
    print(
        f"{'start':>6} {'streams':>7} {'fail':>4} {'TTFT err p50':>12} {'p99':>8} {'max':>8} {'send p99':>9} "
        f"{'recv p99':>9} {'events/s':>8} {'client CPU':>10} {'µs/event':>8}"
    )
    sustained = {start: 0 for start in STARTS}
    workdir = Path(tempfile.mkdtemp(prefix="omniload-fidelity-"))
    for streams in args.levels:
        for start in STARTS:
            spread_s = args.itl_ms / 1000 if start == "spread" else 0.0
            run = run_herd(
                streams,
                workdir,
                requests_per_user=1,
                max_tokens=args.tokens,
                ttft_ms=args.ttft_ms,
                itl_ms=args.itl_ms,
                spread_s=spread_s,
            )
            if run.result.returncode not in (0, 1) or not run.client:
                raise SystemExit(f"locust failed at {streams} streams:\n{run.result.stderr[-2000:]}")
            failed = sum(record.status != "ok" for record in run.records)
            ttft = [error.ttft_s for error in run.errors]
            cpu_s, wall_s = run.client["cpu_s"], run.client["wall_s"]
            print(
                f"{start:>6} {streams:>7} {failed:>4} {ms(ttft, 50):>9.2f} ms {ms(ttft, 99):>5.2f} ms "
                f"{max(ttft, default=0) * 1000:>5.1f} ms {ms([e.send_s for e in run.errors], 99):>6.2f} ms "
                f"{ms([e.receive_s for e in run.errors], 99):>6.2f} ms {run.events / wall_s:>8.0f} "
                f"{run.client['cpu_percent']:>9.0f}% {cpu_s / max(1, run.events) * 1e6:>8.1f}",
                flush=True,
            )
            if ms(ttft, 99) <= ERROR_LIMIT_MS and not failed and len(run.errors) == streams:
                sustained[start] = max(sustained[start], streams)
    for start in STARTS:
        print(f"largest {start} stage with p99 TTFT error <= {ERROR_LIMIT_MS:g} ms: {sustained[start]} streams")


if __name__ == "__main__":
    main()
