"""Conversations (--multi-turn): their flags, checks, and the spec the load side reads.

A conversation is one user's run of turns on one connection: each later turn sends the whole
history (the previous turns' user messages, with the media of the first, and the server's own
answers, byte for byte as they came) and a new user message (harness/load/conversation.py).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.argparsing import BadOption, at_least

MAX_TURNS = 64
MAX_THINK_TIME_S = 3600.0
DEFAULT_MIN_TURNS, DEFAULT_MAX_TURNS = 2, 4
MIN_TURN_PROMPT_TOKENS = 9  # a user message alone through Qwen3's template takes 8


@dataclass(frozen=True)
class ConversationSpec:
    """Turns per conversation, drawn in [min_turns, max_turns]; 1 and 1: no conversations."""

    min_turns: int = 1
    max_turns: int = 1
    think_time_s: float = 0.0  # between an answer and the next turn (the permit is asked for after it)
    turn_prompt_tokens: int | None = None  # each later user message's tokens (None: the run's prompt lengths)

    @property
    def enabled(self) -> bool:
        return self.max_turns > 1


def add_conversation_arguments(add: Callable[..., Any]) -> None:
    add(
        "--multi-turn",
        action="store_true",
        default=False,
        help="Conversations: each later turn resends the whole history with the server's real answers, on the "
        "same user and connection; media in the first turn; every turn is one request of a stage's --number",
    )
    add("--min-turns", type=int, default=DEFAULT_MIN_TURNS, help="--multi-turn: fewest turns per conversation")
    add("--max-turns", type=int, default=DEFAULT_MAX_TURNS, help="--multi-turn: most turns per conversation")
    add(
        "--think-time",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="--multi-turn: a user's pause between an answer and its next turn",
    )
    add(
        "--turn-prompt-length",
        type=int,
        default=0,
        help="--multi-turn: tokens of each later turn's user message (0: drawn as the first turn's, "
        "--min/--max-prompt-length)",
    )


def conversation_spec(parsed: argparse.Namespace) -> ConversationSpec:
    """--multi-turn and its flags checked (BadOption naming the flag)."""
    if not parsed.multi_turn:
        return ConversationSpec()
    at_least("--min-turns", parsed.min_turns, 1)
    at_least("--max-turns", parsed.max_turns, parsed.min_turns, "--min-turns")
    if parsed.max_turns > MAX_TURNS:
        raise BadOption("--max-turns", f"{parsed.max_turns} is more than {MAX_TURNS} turns")
    if not (math.isfinite(parsed.think_time) and 0 <= parsed.think_time <= MAX_THINK_TIME_S):
        raise BadOption("--think-time", f"{parsed.think_time:g} must be from 0 to {MAX_THINK_TIME_S:g} seconds")
    if parsed.turn_prompt_length:
        at_least("--turn-prompt-length", parsed.turn_prompt_length, MIN_TURN_PROMPT_TOKENS)
    return ConversationSpec(
        parsed.min_turns, parsed.max_turns, float(parsed.think_time), parsed.turn_prompt_length or None
    )


# Flags that shape conversations: without --multi-turn they have no effect (harness/options.py _NEEDS).
SHAPING_FLAGS: tuple[tuple[str, str, Any], ...] = (
    ("--min-turns", "min_turns", DEFAULT_MIN_TURNS),
    ("--max-turns", "max_turns", DEFAULT_MAX_TURNS),
    ("--think-time", "think_time", 0.0),
    ("--turn-prompt-length", "turn_prompt_length", 0),
)
