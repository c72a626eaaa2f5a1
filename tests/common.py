"""What many tests share: the served model's name and the repository's root (conftest.py keeps only fixtures)."""

from __future__ import annotations

from pathlib import Path

MODEL = "Qwen3-Omni-30B-A3B-Instruct"
REPO = Path(__file__).resolve().parent.parent
