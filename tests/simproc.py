"""Start the simulator as a real process on a free loopback port; stop it by PID."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

STARTUP_DEADLINE_S = 60.0
STOP_DEADLINE_S = 10.0
_SERVING = re.compile(r"serving on (http://\S+)")


@dataclass
class SimProcess:
    process: subprocess.Popen[str]
    base_url: str
    ground_truth: str | None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def ground_truth_records(self) -> list[dict]:
        import json

        assert self.ground_truth is not None
        with open(self.ground_truth, encoding="utf-8") as lines:
            return [json.loads(line) for line in lines if line.strip()]


def start_sim(args: list[str], ground_truth: str | None = None, host: str = "127.0.0.1") -> SimProcess:
    """Run `python -m harness.sim --port 0 ARGS` and wait (polling) for its `serving on` line."""
    command = [sys.executable, "-m", "harness.sim", "--host", host, "--port", "0", *args]
    if ground_truth:
        command += ["--ground-truth", ground_truth]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
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
            return SimProcess(process, match.group(1), ground_truth)
    process.kill()
    raise RuntimeError("simulator did not start:\n" + "".join(output))
