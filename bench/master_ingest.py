"""How many records a second the master takes in, live metrics on.

Drives a real Master (harness/master/master.py) through the fake RPC with N workers'
worth of realistic RECORD messages (1024-token completions: 1023 ITLs each, as Locust's
RPC delivers them: plain dicts), and times the master's whole handling of each: the
requests.jsonl line, the stage statistics and the Prometheus histograms. One core.
What it means in streams: records/s x mean request latency = streams the master keeps up
with (20 s requests at 2,000 records/s: 40,000 streams).

    .venv/bin/python bench/master_ingest.py [--records 5000] [--workers 8]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from harness import wire
from harness.devtools.fakerunner import FakeCluster, fake_environment
from harness.master.master import Master
from harness.options import options_from_argv
from harness.records import RequestRecord

MODEL = "Qwen3-Omni-30B-A3B-Instruct"
OUTPUT_TOKENS = 1024


def record_message(index: int, worker: int) -> wire.RecordMessage:
    record = RequestRecord(
        f"r-{worker}-{index}",
        0,
        worker,
        index % 64,
        1_800_000_000.0 + index * 0.01,
        1024,
        duration_s=20.5,
        ttfb_s=0.05,
        ttft_s=0.2 + (index % 50) / 1000,
        ttfot_s=0.2,
        latency_s=20.5,
        tpot_s=0.02,
        itl_s=[0.0195 + (i % 13) / 10_000 for i in range(OUTPUT_TOKENS - 1)],
        tokens_per_event=[1] * OUTPUT_TOKENS,
        prompt_tokens=1282,
        multimodal_tokens=258,
        completion_tokens=OUTPUT_TOKENS,
        tokens_source="usage",
        finish_reason="length",
    )
    return {"record": record.to_dict(), "permit": None, "cpu_s": 1.0}


def side_by_side(messages: list[wire.RecordMessage]) -> str:
    """The ITL histogram fed one observation at a time vs. in bulk, same records, same run."""
    from prometheus_client import CollectorRegistry, Histogram

    from harness.buckets import CLIENT_TPOT_BUCKETS_S
    from harness.master.bulkhistogram import BulkHistogram

    one = Histogram("itl", "gaps", buckets=CLIENT_TPOT_BUCKETS_S, registry=CollectorRegistry())
    bulk = BulkHistogram("itl", "gaps", [], CLIENT_TPOT_BUCKETS_S, CollectorRegistry())
    started_s = time.process_time()
    for message in messages:
        for gap_s in message["record"]["itl_s"]:
            one.observe(gap_s)
    one_s = time.process_time() - started_s
    started_s = time.process_time()
    for message in messages:
        bulk.observe_many((), message["record"]["itl_s"])
    bulk_s = time.process_time() - started_s
    return (
        f"ITL histogram per record: one observe() per gap {one_s / len(messages) * 1e6:,.0f} µs, in bulk "
        f"{bulk_s / len(messages) * 1e6:,.0f} µs ({one_s / bulk_s:.0f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    report_dir = tempfile.mkdtemp(prefix="omniload-ingest-")
    cluster = FakeCluster()
    master = Master(
        fake_environment(cluster.master, num_users=64),
        options_from_argv(["--model", MODEL, "--report-dir", report_dir], "http://127.0.0.1:9"),
    )
    senders = [cluster.add_worker(f"w{worker}") for worker in range(args.workers)]
    messages = [record_message(index, index % args.workers) for index in range(args.records)]
    started_cpu_s, started_s = time.process_time(), time.perf_counter()
    for index, message in enumerate(messages):
        senders[index % args.workers].send_message(wire.RECORD, message)
    cpu_s, wall_s = time.process_time() - started_cpu_s, time.perf_counter() - started_s
    master.close()
    print(side_by_side(messages[:500]))
    print(
        f"{args.records} records ({OUTPUT_TOKENS - 1} ITLs each) from {args.workers} workers: "
        f"{args.records / cpu_s:,.0f} records per CPU-second ({cpu_s / args.records * 1e6:,.0f} µs each; "
        f"wall {args.records / wall_s:,.0f}/s); with 20 s requests that keeps up with "
        f"{args.records / cpu_s * 20:,.0f} streams"
    )


if __name__ == "__main__":
    main()
