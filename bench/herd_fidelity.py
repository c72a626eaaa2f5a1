"""Timing under a herd: every user of a sweep stage starts in the same instant, no staggering.

A real headless Locust process runs one sweep stage of N users (3N requests, 1024-token
prompts, one 256x256 image, 128 output tokens) against the simulator in `--fixed 50 20`
mode; client and server are joined on X-Request-Id. The simulator stamps arrivals with
the kernel's receive time, so its ground truth holds when N requests arrive at once.
Prints the TTFT error (|client TTFT - server TTFT|), the send side (request written ->
server stamp) and the receive side (token written -> client stamp), p50/p99/max.

    .venv/bin/python bench/herd_fidelity.py [--levels 50 100 200]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from harness.devtools.herd import run_herd
from harness.master.stats import percentile


def herd(streams: int, workdir: Path) -> str:
    run = run_herd(streams, workdir)
    errors, result = run.errors, run.result
    ttft = sorted(error.ttft_s for error in errors)
    send = sorted(error.send_s for error in errors)
    receive = sorted(error.receive_s for error in errors)

    def ms(values: list[float]) -> str:
        return f"p50 {percentile(values, 50) * 1000:.2f} / p99 {percentile(values, 99) * 1000:.2f} / max {values[-1] * 1000:.2f} ms"

    return (f"{streams:>4} users at once, exit {result.returncode}, {len(errors)} requests: TTFT error {ms(ttft)}; "
            f"send side {ms(send)}; receive side {ms(receive)}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[50, 100])
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="omniload-herd-"))
    for streams in args.levels:
        print(herd(streams, workdir), flush=True)


if __name__ == "__main__":
    main()
