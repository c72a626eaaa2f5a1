"""`omniload replay RUN_DIR --host OTHER`: a recorded run's exact request bodies, again, at their recorded times.

The run must have kept its bodies (--keep-bodies). Each of its stages becomes an open-loop stage
whose requests are due at their recorded offsets from the stage's first send (its warm-ups and
probes left out: they were not measured), at most the stage's concurrency in flight
(--max-concurrency overrides); the bodies go out as they were, byte for byte, whatever the new
server answers. Then `omniload report RUN_DIR NEW` compares the two runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.argparsing import BadOption, exit_bad_option
from harness.bodies import read_bodies
from harness.records import RequestRecord, read_records
from harness.results import PROBE_CLASS, REQUESTS_FILE, SUMMARY_FILE

PROG = "omniload replay"


@dataclass(frozen=True)
class ReplayStage:
    parallel: int
    records: list[RequestRecord]  # in send order
    offsets_s: tuple[float, ...]  # each one's send time after the stage's first


def replay_stages(run_dir: str) -> list[ReplayStage]:
    """The recorded run's measured requests, stage by stage (BadOption naming --replay when unusable)."""
    try:
        summary = json.loads((Path(run_dir) / SUMMARY_FILE).read_text(encoding="utf-8"))
        records = read_records(str(Path(run_dir) / REQUESTS_FILE))
    except (OSError, ValueError) as exc:
        raise BadOption("--replay", f"{run_dir}: not a run's report directory ({type(exc).__name__})") from None
    by_stage: dict[int, list[RequestRecord]] = {}
    for record in records:
        if record.user >= 0 and not record.warmup and record.request_class != PROBE_CLASS and record.t_send:
            by_stage.setdefault(record.stage, []).append(record)
    stages = []
    for index in sorted(by_stage):
        sent = sorted(by_stage[index], key=lambda record: record.t_send)
        recorded: dict[str, Any] = summary["stages"][index] if index < len(summary.get("stages", [])) else {}
        first_s = sent[0].t_send
        stages.append(
            ReplayStage(int(recorded.get("parallel") or len(sent)), sent, tuple(r.t_send - first_s for r in sent))
        )
    if not stages:
        raise BadOption("--replay", f"{run_dir}: no measured request to replay")
    return stages


def replay_bodies(run_dir: str, stages: list[ReplayStage]) -> list[bytes]:
    """The stages' bodies in order (BadOption when the run kept none, or not all)."""
    wanted = {record.request_id for stage in stages for record in stage.records}
    try:
        bodies = read_bodies(run_dir, wanted)
    except (OSError, ValueError) as exc:
        raise BadOption("--replay", f"{run_dir}: its kept bodies cannot be read ({exc})") from None
    missing = len(wanted - bodies.keys())
    if missing:
        raise BadOption(
            "--replay", f"{run_dir}: {missing} of {len(wanted)} bodies were not kept (run it with --keep-bodies)"
        )
    return [bodies[record.request_id] for stage in stages for record in stage.records]


def main(argv: list[str]) -> int:
    """omniload replay RUN_DIR [run flags: --host is required]: run, then compare."""
    if not argv or argv[0].startswith("-"):
        exit_bad_option(BadOption("RUN_DIR", "the run to replay comes first: omniload replay RUN_DIR --host URL"), PROG)
    run_dir, rest = argv[0], argv[1:]
    try:
        summary = json.loads((Path(run_dir) / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        exit_bad_option(BadOption("RUN_DIR", f"{run_dir} holds no readable {SUMMARY_FILE}"), PROG)
    report_dir = _flag(rest, "--report-dir") or os.path.join(
        os.path.dirname(os.path.abspath(run_dir)),
        f"replay-of-{Path(run_dir).name}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}",
    )
    command = [sys.executable, "-m", "harness.cli", "run", "--headless", "--replay", run_dir]
    if _flag(rest, "--model") is None:
        command += ["--model", str(summary.get("model", ""))]
    if _flag(rest, "--report-dir") is None:
        command += ["--report-dir", report_dir]
    returncode = subprocess.run([*command, *rest], check=False).returncode
    if (Path(report_dir) / SUMMARY_FILE).is_file():
        from harness.report.command import main as report_main

        report_main([run_dir, report_dir, "--out", os.path.join(report_dir, "comparison.html")])
    return returncode


def _flag(args: list[str], name: str) -> str | None:
    for previous, arg in zip(["", *args], args, strict=False):
        if previous == name:
            return arg
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None
