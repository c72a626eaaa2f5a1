"""Injected faults: a spec language shared by the `X-Sim-Fault` header and `--faults`.

http_500 | http_503       answer with that status and vLLM's error body
http_429[:RETRY_S]        429 with `Retry-After: RETRY_S` (default 1)
delay:SECONDS             wait before sending the response headers
stall:SECONDS@K           pause SECONDS after the K-th token, then go on
disconnect@K              drop the connection after K tokens (no terminator)
malformed@K               after K tokens, one event whose JSON is cut short
error_event@K             after K tokens, an `{"error": …}` event, then `[DONE]`
no_done                   a complete stream whose `data: [DONE]` is missing (still complete)
cut@K                     after K tokens, end the response normally: no finish_reason, usage or [DONE]
short@K                   stop after K tokens with finish_reason "stop", min_tokens or not
talker_stall:SECONDS@K    --talker: pause SECONDS before the K-th audio chunk (the listener runs dry)
audio_cut@K               --talker: drop the connection after K audio chunks
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

FAULT_HEADER = "X-Sim-Fault"
DEFAULT_RETRY_AFTER_S = 1

_SPEC = re.compile(r"^(?P<kind>[a-z_0-9]+)(?::(?P<seconds>[0-9.]+))?(?:@(?P<at>[0-9]+))?$")
_KINDS_WITH_SECONDS = {"delay", "stall", "http_429", "talker_stall"}
_KINDS_WITH_TOKEN = {"stall", "disconnect", "malformed", "error_event", "short", "cut", "talker_stall", "audio_cut"}
TALKER_KINDS = frozenset({"talker_stall", "audio_cut"})  # their K counts audio chunks, not tokens
_KINDS = {"http_500", "http_503", "no_done"} | _KINDS_WITH_SECONDS | _KINDS_WITH_TOKEN


@dataclass(frozen=True)
class Fault:
    """One fault to inject into a request: its kind, when it strikes and its parameters."""

    kind: str
    seconds: float = 0.0
    at_token: int = 0
    spec: str = ""

    @property
    def http_status(self) -> int | None:
        """The status to answer with instead of streaming, for http_* faults."""
        return int(self.kind[5:]) if self.kind.startswith("http_") else None


def parse_fault(spec: str) -> Fault:
    """Parse one fault spec; ValueError naming the spec when it is not one."""
    match = _SPEC.match(spec.strip())
    kind = match.group("kind") if match else None
    if match is None or kind not in _KINDS:
        raise ValueError(f"unknown fault {spec!r}; expected one of {sorted(_KINDS)}")
    if kind in ("delay", "stall", "talker_stall") and match.group("seconds") is None:
        raise ValueError(f"fault {spec!r} needs :SECONDS")
    if kind in _KINDS_WITH_TOKEN and match.group("at") is None:
        raise ValueError(f"fault {spec!r} needs @TOKENS")
    if kind not in _KINDS_WITH_SECONDS and match.group("seconds") is not None:
        raise ValueError(f"fault {spec!r} takes no :SECONDS")
    if kind not in _KINDS_WITH_TOKEN and match.group("at") is not None:
        raise ValueError(f"fault {spec!r} takes no @TOKENS")
    default_seconds = DEFAULT_RETRY_AFTER_S if kind == "http_429" else 0.0
    return Fault(
        kind=kind,
        seconds=float(match.group("seconds") or default_seconds),
        at_token=int(match.group("at") or 0),
        spec=spec.strip(),
    )


class FaultPicker:
    """Chooses a fault for a request: the header's if given, else one of `faults` at `rate`."""

    def __init__(self, faults: list[Fault], rate: float, seed: int) -> None:
        self._faults = faults
        self._rate = rate
        self._rng = random.Random(seed)

    def pick(self, header_spec: str | None) -> Fault | None:
        if header_spec:
            return parse_fault(header_spec)
        if self._faults and self._rate > 0 and self._rng.random() < self._rate:
            return self._rng.choice(self._faults)
        return None
