"""How much CPU the simulator needs, and how punctually it sends, at 5,000 events/s.

100 concurrent streams of 1024 tokens against `--fixed 20 20` (TTFT 20 ms, ITL 20 ms):
100 streams × 50 events/s = 5,000 events/s. Stream starts are staggered over one ITL
(--stagger-ms) so events are spread evenly, as in a steady-state load; --stagger-ms 0
shows the worst case, all 100 streams due in the same millisecond.

Prints the simulator's CPU share of one core over the steady window (from
/proc/PID/stat), its event rate, and the lateness of every event against its schedule
(p50/p99/max, from the simulator's --ground-truth-events). Targets: CPU ≤ 40 % of one
core, p99 lateness ≤ 2 ms.

    .venv/bin/python bench/sim_capacity.py [--streams 100] [--tokens 1024] [--itl-ms 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time

import aiohttp

from harness.devtools.simprocess import start_sim

CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
MODEL = "Qwen3-Omni-30B-A3B-Instruct"


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S


async def one_stream(session: aiohttp.ClientSession, url: str, tokens: int, delay_s: float) -> int:
    await asyncio.sleep(delay_s)
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Tell me a long story."}],
        "max_tokens": tokens,
        "min_tokens": tokens,
        "ignore_eos": True,
        "stream": True,
    }
    received = 0
    async with session.post(url, json=body) as response:
        async for chunk in response.content.iter_any():
            received += len(chunk)
    return received


async def drive(url: str, streams: int, tokens: int, stagger_s: float) -> None:
    connector = aiohttp.TCPConnector(limit=streams)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:
        await asyncio.gather(*(one_stream(session, url, tokens, i * stagger_s / streams) for i in range(streams)))


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest rank: index ceil(p·n/100) − 1."""
    import math

    return sorted_values[max(0, math.ceil(p * len(sorted_values) / 100) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--ttft-ms", type=float, default=20.0)
    parser.add_argument("--itl-ms", type=float, default=20.0)
    parser.add_argument("--stagger-ms", type=float, default=None, help="default: one ITL")
    args = parser.parse_args()
    stagger_s = (args.itl_ms if args.stagger_ms is None else args.stagger_ms) / 1000

    with tempfile.TemporaryDirectory() as workdir:
        ground_truth = os.path.join(workdir, "gt.jsonl")
        sim = start_sim(["--fixed", str(args.ttft_ms), str(args.itl_ms), "--ground-truth-events"], ground_truth)
        try:
            cpu_before = cpu_seconds(sim.process.pid)
            wall_before = time.perf_counter()
            asyncio.run(drive(sim.base_url + "/v1/chat/completions", args.streams, args.tokens, stagger_s))
            wall_s = time.perf_counter() - wall_before
            cpu_s = cpu_seconds(sim.process.pid) - cpu_before
            records = sim.ground_truth_records()
        finally:
            sim.stop()

    lags_ms = sorted(lag_us / 1000 for record in records for lag_us in record["event_lag_us"])
    events = len(lags_ms)
    first_send = min(r["received_at"] for r in records)
    last_send = max(r["last_token_at"] for r in records)
    active_s = last_send - first_send
    completions = sum(r["completion_tokens"] for r in records)
    print(
        f"streams={len(records)} tokens/stream={args.tokens} fixed TTFT/ITL={args.ttft_ms}/{args.itl_ms} ms "
        f"stagger={stagger_s * 1000:.1f} ms"
    )
    print(
        f"events={events} completion_tokens={completions} active={active_s:.2f} s rate={events / active_s:.0f} events/s"
    )
    print(
        f"simulator CPU: {cpu_s:.2f} s over {wall_s:.2f} s wall = {100 * cpu_s / wall_s:.1f} % of one core "
        f"({1e6 * cpu_s / events:.1f} µs per event, request handling included)"
    )
    print(
        f"send lateness vs schedule: p50={percentile(lags_ms, 50):.3f} ms p99={percentile(lags_ms, 99):.3f} ms "
        f"max={lags_ms[-1]:.3f} ms"
    )
    first_event_lags_ms = sorted(record["event_lag_us"][0] / 1000 for record in records)
    print(
        f"first events only: p50={percentile(first_event_lags_ms, 50):.3f} ms "
        f"max={first_event_lags_ms[-1]:.3f} ms; events later than 5 ms: {sum(lag > 5 for lag in lags_ms)}"
    )
    ok = 100 * cpu_s / wall_s <= 40 and percentile(lags_ms, 99) <= 2.0
    print("targets (CPU <= 40 %, p99 <= 2 ms):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
