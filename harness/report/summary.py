"""summary.json: the run's settings, stages and everything learnt about the load generators."""

from __future__ import annotations

import json
import os
from typing import Any, TypedDict

from harness.master.stats import StageSummary
from harness.wire import ClientUsage, DoneMessage, PayloadFacts, ReadyMessage

SUMMARY_FILE = "summary.json"
REQUESTS_FILE = "requests.jsonl"
SLA_SUMMARY_FILE = "sla_summary.json"


class WorkerSummary(TypedDict, total=False):
    """One load generator's part of summary.json (from its READY and DONE messages)."""

    payloads: PayloadFacts
    tokenize_check: dict[str, Any]
    client: ClientUsage
    unreachable_s: float


class RunSummary(TypedDict, total=False):
    """summary.json as written by the master at the end of a run."""

    model: str
    started_at: str  # ISO 8601 UTC
    provenance: dict[str, str]  # omniload's version, its own commit, the host (harness/provenance.py)
    config: dict[str, Any]  # the options, secrets left out
    stages: list[StageSummary]
    payloads: PayloadFacts  # over all load generators: how the pools were built, requests that reused one
    tokenize_check: dict[str, Any]  # a prompt's length as the server's /tokenize counts it
    client: ClientUsage  # CPU all load generators used during load (cpu_percent: of one core)
    workers: dict[str, WorkerSummary]  # per load generator (index; "0" for a single process)
    unreachable_s: float  # longest time any load generator could not reach the server
    lost_workers: dict[str, int]  # worker id -> requests lost in flight
    completed: bool  # every stage ran its whole budget
    server_profile: str  # vllm or openai: which request extensions were sent
    output_length_enforced: bool  # the server was told to produce exactly the asked output length
    stopped_by: str  # what stopped the run early (SIGTERM, SIGINT), when something did
    omnibench: dict[str, Any]
    sla: list[Any]  # --sla-auto-tune: each group's answer (harness/master/sla.py SlaResult); sla_summary.json has more


def write_summary(report_dir: str, summary: RunSummary) -> str:
    """Write summary.json atomically (a reader never sees half a file); returns its path."""
    return write_json(os.path.join(report_dir, SUMMARY_FILE), summary)


def write_json(path: str, content: Any) -> str:
    """Write a JSON file atomically (a reader never sees half a file); returns its path."""
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(content, file, indent=2)
        file.write("\n")
    os.replace(temporary, path)
    return path


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
