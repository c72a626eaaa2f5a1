"""One request inside the simulator's engine: its sizes, its clock stamps, and the tokens produced so far.

Apart from the engines (harness/sim/engine.py) so that the metrics (harness/sim/metrics.py)
can read it without importing the engines that feed them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class Sequence:
    """One request inside the engine."""

    request_id: str
    prompt_tokens: int
    output_tokens: int
    received_perf: float
    cached_tokens: int = 0  # of the prompt, found in the prefix cache: not prefilled again
    first_token_delay_s: float = 0.0  # the fixed engine's TTFT for it (its jitter drawn)
    queued_perf: float = 0.0
    tokens_ready: int = 0
    ready_perf: float = 0.0
    first_token_perf: float | None = None
    done: bool = False
    _wanted_tokens: int = 0
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def produce(self, tokens: int, at_perf: float) -> None:
        if self.first_token_perf is None:
            self.first_token_perf = at_perf
        self.tokens_ready += tokens
        self.ready_perf = at_perf
        if self.tokens_ready >= self._wanted_tokens:
            self._wakeup.set()
