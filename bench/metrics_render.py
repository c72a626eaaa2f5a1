"""What one Prometheus scrape of the master costs: render time and size, by number of workers.

Each worker has sent 1,000 records (1024-token streams: 1023 ITL observations each), so
every histogram is populated; series grow with workers only through the per-worker CPU
gauge (labels are bounded). Prints render time per scrape (median of 50) and page size.

    .venv/bin/python bench/metrics_render.py
"""

from __future__ import annotations

import statistics
import time

from prometheus_client import generate_latest

from harness.master.metrics import LiveMetrics
from harness.records import RequestRecord

RECORDS_PER_WORKER = 1000
SCRAPES = 50


def main() -> None:
    print(f"{'workers':>7} {'series lines':>12} {'page KB':>8} {'render ms (median)':>18} {'observe µs/record':>18}")
    for workers in (1, 8, 64):
        metrics = LiveMetrics("Qwen3-Omni-30B-A3B-Instruct")
        started_s = time.perf_counter()
        for worker in range(workers):
            record = RequestRecord(
                "r",
                0,
                worker,
                0,
                0.0,
                1024,
                ttft_s=0.2,
                tpot_s=0.02,
                latency_s=20.0,
                itl_s=[0.02] * 1023,
                prompt_tokens=1282,
                completion_tokens=1024,
            )
            for _ in range(RECORDS_PER_WORKER // workers if workers > 8 else RECORDS_PER_WORKER):
                metrics.observe(record, worker_cpu_s=1.0)
        observed = workers * (RECORDS_PER_WORKER // workers if workers > 8 else RECORDS_PER_WORKER)
        observe_us = (time.perf_counter() - started_s) / observed * 1e6
        timings = []
        for _ in range(SCRAPES):
            started_s = time.perf_counter()
            page = generate_latest(metrics.registry)
            timings.append(time.perf_counter() - started_s)
        print(
            f"{workers:>7} {len(page.splitlines()):>12} {len(page) / 1024:>8.1f} "
            f"{statistics.median(timings) * 1000:>18.2f} {observe_us:>18.0f}"
        )


if __name__ == "__main__":
    main()
