"""Deterministic answers to OmniBench questions, right for a chosen share of them.

The key is an OmniBench-layout parquet file (the same one the client asks from). Which
questions are answered right depends only on the questions and the accuracy: the first
round(accuracy x n) by SHA-256 of their text. A wrong answer is the next letter. So a
test can compute the exact score, overall and per task or audio type, in advance.
"""

from __future__ import annotations

import hashlib

import pyarrow.parquet as pq

ANSWER_TEMPLATE = "Looking at the picture and listening to the audio, one option fits.\nANSWER: {letter}"


def right_questions(questions: list[str], accuracy: float) -> set[str]:
    """The questions answered right at this accuracy."""
    ranked = sorted(questions, key=lambda question: hashlib.sha256(question.encode()).hexdigest())
    return set(ranked[: round(accuracy * len(questions))])


class AnswerKey:
    """OmniBench answers the simulator gives: right for a set share of questions, chosen by hash."""

    def __init__(self, path: str, accuracy: float) -> None:
        rows = pq.read_table(path, columns=["question", "options", "answer"]).to_pylist()
        self.letters: dict[str, tuple[int, int]] = {}  # question -> (right option, options)
        for row in rows:
            self.letters.setdefault(row["question"], (row["options"].index(row["answer"]), len(row["options"])))
        self.right = right_questions(list(self.letters), accuracy)

    def answer(self, prompt_text: str) -> str | None:
        """The answer text for a prompt holding a known question (as a paragraph), else None."""
        for paragraph in prompt_text.split("\n\n"):
            found = self.letters.get(paragraph.strip())
            if found is not None:
                right, options = found
                chosen = right if paragraph.strip() in self.right else (right + 1) % options
                return ANSWER_TEMPLATE.format(letter=chr(ord("A") + chosen))
        return None
