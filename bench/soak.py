"""A long run's memory: does the load generator's RSS stay flat?

Runs a real headless Locust process (single process: load generator and master side
together, live metrics on) at 10 users against the simulator for 10 minutes, samples the
process's resident memory every 10 s from /proc, and prints the growth after warm-up
(target: under 5 %), and whether every request sent a payload never sent before: the
simulator's ground truth keeps a digest of each request body (the summary's own count of
reused payloads is checked against it). Default payloads (1024-token prompts, one 512x512 PNG each) with
128 output tokens at 5 ms, so about 15 requests a second go through.

    .venv/bin/python bench/soak.py [--minutes 10] [--users 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from harness.devtools.locustproc import locust_command
from harness.devtools.promserver import free_port
from harness.devtools.simprocess import start_sim
from harness.jsonl import read_jsonl

MODEL = "Qwen3-Omni-30B-A3B-Instruct"
SAMPLE_EVERY_S = 10.0
WARM_UP_S = 60.0
TARGET_GROWTH = 0.05


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def children_rss_bytes(pid: int) -> int:
    """The RSS of a process's children (the load generator's payload builder), summed."""
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return sum(rss_bytes(int(child)) for child in children.read().split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=10)
    args = parser.parse_args()
    run_s = args.minutes * 60
    report = Path(tempfile.mkdtemp(prefix="omniload-soak-"))
    sim = start_sim(["--fixed", "20", "5", "--model", MODEL], ground_truth=str(report / "truth.jsonl"))
    locust = subprocess.Popen(
        locust_command(
            [
                "--headless",
                "-u",
                str(args.users),
                "-r",
                str(args.users),
                "-t",
                f"{run_s:.0f}s",
                "--host",
                sim.base_url,
                "--model",
                MODEL,
                "--max-tokens",
                "128",
                "--report-dir",
                str(report),
                "--metrics-port",
                str(free_port()),
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    samples: list[tuple[float, int]] = []
    builder_samples: list[int] = []
    try:
        started_s = time.monotonic()
        while locust.poll() is None and time.monotonic() - started_s < run_s + 120:
            requests = report / "requests.jsonl"
            if requests.exists() and requests.stat().st_size:  # load is running
                samples.append((time.monotonic() - started_s, rss_bytes(locust.pid)))
                builder_samples.append(children_rss_bytes(locust.pid))
                print(
                    f"{samples[-1][0]:6.0f} s  RSS {samples[-1][1] / 2**20:7.1f} MiB, payload builder "
                    f"{builder_samples[-1] / 2**20:7.1f} MiB",
                    flush=True,
                )
            time.sleep(SAMPLE_EVERY_S)
        locust.wait(300)
    finally:
        if locust.poll() is None:
            locust.kill()
        sim.stop()
    records = read_jsonl(str(report / "requests.jsonl"))
    digests = [request["body_digest"] for request in sim.ground_truth_records() if "body_digest" in request]
    payloads = json.loads((report / "summary.json").read_text())["workers"]["0"]["payloads"]
    print(
        f"payloads: {len(digests)} requests reached the server with {len(set(digests))} distinct bodies; "
        f"summary: reused {payloads['reused']}, built during load {payloads['built_during_load']}, "
        f"waits for a payload {payloads['waits']} ({payloads['wait_s']} s)"
    )
    load_started_s = samples[0][0]
    after_warm_up = [rss for at_s, rss in samples if at_s >= load_started_s + WARM_UP_S]
    growth = (after_warm_up[-1] - after_warm_up[0]) / after_warm_up[0]
    print(
        f"{len(records)} requests ({sum(r['status'] == 'ok' for r in records)} ok) in {args.minutes:g} min at "
        f"{args.users} users; RSS after {WARM_UP_S:.0f} s warm-up {after_warm_up[0] / 2**20:.1f} MiB, at the end "
        f"{after_warm_up[-1] / 2**20:.1f} MiB: growth {100 * growth:+.1f} % (target under "
        f"{100 * TARGET_GROWTH:.0f} %), peak {max(rss for _, rss in samples) / 2**20:.1f} MiB; payload builder "
        f"process peak {max(builder_samples) / 2**20:.1f} MiB"
    )


if __name__ == "__main__":
    main()
