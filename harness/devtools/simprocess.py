"""Run the simulator as a child process (demo, tests, benchmarks); stop it by PID.

A launcher for clients of the simulator (demo, tests, benchmarks), not part of it.
"""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from harness.jsonl import read_jsonl
from harness.load.preflight import PREFLIGHT_ID_PREFIX

STARTUP_DEADLINE_S = 60.0
STOP_DEADLINE_S = 10.0
RECORDS_DEADLINE_S = 10.0
OUTPUT_LINES_KEPT = 200
_SERVING = re.compile(r"serving on (http://\S+)")


@dataclass
class SimProcess:
    """A running simulator child process, its URL, ground-truth path and last output lines."""

    process: subprocess.Popen[str]
    base_url: str
    ground_truth: str | None
    output: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=OUTPUT_LINES_KEPT))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def ground_truth_records(self, with_preflight: bool = False) -> list[dict[str, Any]]:
        """What the simulator did, per request; omniload's one check request before load left out unless asked."""
        assert self.ground_truth is not None
        records = read_jsonl(self.ground_truth)
        if with_preflight:
            return records
        return [record for record in records if not record["request_id"].startswith(PREFLIGHT_ID_PREFIX)]

    def wait_records(self, count: int, deadline_s: float = RECORDS_DEADLINE_S) -> list[dict[str, Any]]:
        """The ground truth once it holds `count` requests (the simulator writes a request's
        record after its response has ended, so a client can read the last byte first)."""
        deadline = time.monotonic() + deadline_s
        while len(records := self.ground_truth_records()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the simulator recorded {len(records)} requests of {count} in {deadline_s} s")
            time.sleep(0.01)
        return records


def start_sim(args: list[str], ground_truth: str | None = None, host: str = "127.0.0.1", port: int = 0) -> SimProcess:
    """Run `python -m harness.sim --port PORT ARGS` and wait for its `serving on` line.

    Port 0 picks a free one. Later output is read by a thread (so the pipe never fills)
    and its last lines kept in `SimProcess.output`.
    """
    command = [sys.executable, "-m", "harness.sim", "--host", host, "--port", str(port), *args]
    if ground_truth:
        command += ["--ground-truth", ground_truth]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    assert process.stdout is not None
    output: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        match = _SERVING.search(line)
        if match:
            sim = SimProcess(process, match.group(1), ground_truth)
            threading.Thread(target=sim.output.extend, args=(process.stdout,), daemon=True).start()
            return sim
    process.kill()
    raise RuntimeError("simulator did not start:\n" + "".join(output))
