"""Run a real `locust` process (headless, or master/worker) and collect what it printed: for tests and benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness.resources import locustfile_path

LOCUSTFILE = locustfile_path()
# Test-only user classes (start times spread out), for timing tests and benchmarks.
STAGGERED_LOCUSTFILE = str(Path(__file__).resolve().parent / "locustfiles" / "staggered.py")
RUN_DEADLINE_S = 240.0


def locust_command(args: list[str], locustfile: str = LOCUSTFILE) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", locustfile, *args]


def run_locust(
    args: list[str], locustfile: str = LOCUSTFILE, env: dict[str, str] | None = None, cwd: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run locust to completion (bounded by RUN_DEADLINE_S); stdout and stderr captured."""
    return subprocess.run(
        locust_command(args, locustfile),
        capture_output=True,
        text=True,
        timeout=RUN_DEADLINE_S,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
