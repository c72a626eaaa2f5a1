"""What the load generators said about themselves (READY and DONE messages), put into the run's summary."""

from __future__ import annotations

from harness.results import RunSummary, WorkerSummary
from harness.wire import DoneMessage, ReadyMessage


def add_load_generators(summary: RunSummary, ready: dict[int, ReadyMessage], done: dict[int, DoneMessage]) -> None:
    """Fill `workers` (one entry per load generator) and the run-wide `payloads`, `client`
    and `tokenize_check` from what the load generators said (READY and DONE messages)."""
    workers: dict[str, WorkerSummary] = {}
    for index in sorted(ready.keys() | done.keys()):
        worker: WorkerSummary = {}
        if index in ready:
            worker["payloads"] = {**ready[index]["payloads"]}
            worker["tokenize_check"] = ready[index]["tokenize_check"]
        if index in done:
            facts = worker.setdefault("payloads", {})
            facts["reused"] = done[index]["reused"]
            facts["built_during_load"] = done[index]["built_during_load"]
            facts["waits"] = done[index]["payload_waits"]
            facts["wait_s"] = done[index]["payload_wait_s"]
            worker["client"] = done[index]["client"]
            worker["unreachable_s"] = done[index]["unreachable_s"]
        workers[str(index)] = worker
    summary["workers"] = workers
    pools = [ready[index]["payloads"] for index in sorted(ready)]
    if pools:
        built = sum(pool["pool_size"] for pool in pools)
        summary["payloads"] = {
            "pool_size": built,
            "build_s": max(pool["build_s"] for pool in pools),
            "image_bytes_mean": sum(pool["image_bytes_mean"] * pool["pool_size"] for pool in pools) / built,
            "body_bytes_mean": sum(pool["body_bytes_mean"] * pool["pool_size"] for pool in pools) / built,
            "reused": sum(message["reused"] for message in done.values()),
            "built_during_load": sum(message["built_during_load"] for message in done.values()),
            "waits": sum(message["payload_waits"] for message in done.values()),
            "wait_s": round(sum(message["payload_wait_s"] for message in done.values()), 3),
        }
        summary["tokenize_check"] = ready[min(ready)]["tokenize_check"]
    if done:
        summary["unreachable_s"] = max(message["unreachable_s"] for message in done.values())
        cpu_s = sum(message["client"]["cpu_s"] for message in done.values())
        wall_s = max(message["client"]["wall_s"] for message in done.values())
        summary["client"] = {
            "cpu_s": round(cpu_s, 3),
            "wall_s": wall_s,
            "cpu_percent": round(100 * cpu_s / wall_s, 1) if wall_s > 0 else 0.0,
        }
