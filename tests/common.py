"""What many tests share: the served model's name and the repository's root (conftest.py keeps only fixtures)."""

from __future__ import annotations

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
