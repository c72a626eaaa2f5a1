"""What many tests share: the served model's name and the repository's root (conftest.py keeps only fixtures)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MODEL = "Qwen3-Omni-30B-A3B-Instruct"
REPO = Path(__file__).resolve().parent.parent

# A short text-only request: most process tests need a sweep, not a payload.
TEXT_ONLY = ["--image-num", "0", "--min-prompt-length", "32", "--max-prompt-length", "32", "--max-tokens", "4"]


def headless(base_url: str, report_dir: Path, *extra: str) -> list[str]:
    """A headless run's flags against `base_url`, results in `report_dir`, no live metrics, then `extra`."""
    return [
        "--headless",
        "--host",
        base_url,
        "--model",
        MODEL,
        "--report-dir",
        str(report_dir),
        "--metrics-port",
        "0",
        "--sleep-interval",
        "0",
        *extra,
    ]


def omniload(*args: str, cwd: Path = REPO, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """`omniload ARGS` (this checkout's harness.cli) to its end; its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=timeout_s, cwd=cwd
    )
