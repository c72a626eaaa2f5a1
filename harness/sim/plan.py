"""How a simulated stream splits its output into events: the one planner the stream follows.

One event per `--stream-interval` tokens (vLLM's stream_interval), never straddling the
reasoning/content boundary or the token where a fault strikes.
"""

from __future__ import annotations

from collections.abc import Iterable


def event_ends(total_tokens: int, stream_interval: int, boundaries: Iterable[int | None] = ()) -> list[int]:
    """Tokens sent so far at the end of each output event, in order (the last is total_tokens)."""
    cuts = sorted({0, total_tokens} | {cut for cut in boundaries if cut is not None and 0 < cut < total_tokens})
    ends: list[int] = []
    for low, high in zip(cuts, cuts[1:], strict=False):
        ends.extend(range(low + stream_interval, high, stream_interval))
        ends.append(high)
    return ends
