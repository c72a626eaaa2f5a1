"""EvalScope's multiple-choice scoring: extract a letter, mean accuracy overall and by kind."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

ANSWER_MARKER = re.compile(r"ANSWER\s*:\s*\**\s*\(?([A-Za-z])\)?", re.IGNORECASE)
CAPITAL = re.compile(r"\b([A-Z])\b")


def extract_letter(output: str, option_count: int) -> str | None:
    """The last `ANSWER:` marker with a valid letter, else the last valid capital letter."""
    valid = {chr(ord("A") + i) for i in range(option_count)}
    for match in reversed(ANSWER_MARKER.findall(output)):
        if match.upper() in valid:
            return match.upper()
    for match in reversed(CAPITAL.findall(output)):
        if match in valid:
            return match
    return None


def score(samples: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """mean_acc over answered samples, overall and by task type and audio type.

    Samples that failed (no answer after retries) are counted apart, not as wrong.
    """
    answered = [s for s in samples if s["status"] == "ok"]
    failed = [s for s in samples if s["status"] != "ok"]

    def by(key: str) -> dict[str, dict[str, float | int]]:
        groups: dict[str, list[bool]] = defaultdict(list)
        for sample in answered:
            groups[sample[key]].append(sample["correct"])
        return {
            name: {"num": len(marks), "mean_acc": sum(marks) / len(marks)} for name, marks in sorted(groups.items())
        }

    correct = sum(s["correct"] for s in answered)
    return {
        "num": len(answered),
        "failed": len(failed),
        "mean_acc": correct / len(answered) if answered else 0.0,
        "by_task_type": by("task_type"),
        "by_audio_type": by("audio_type"),
    }
