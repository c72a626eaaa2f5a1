"""How long a user waits after its server could not be reached: exponential, capped.

Without a wait, a user whose connection is refused sends again at once: a 10 s outage
made 42,588 failure records from 4 users. Any other outcome resets the wait.
"""

from __future__ import annotations

from harness import wire

FIRST_WAIT_S = 0.05
MAX_WAIT_S = 1.0
GROWTH = 2.0


class ConnectBackoff:
    """One user's wait before its next request, from the outcome of its last one."""

    def __init__(self) -> None:
        self._next_wait_s = FIRST_WAIT_S

    def wait_after(self, reason: str | None) -> float:
        """Seconds to wait after a request that ended with `reason` (None: ok)."""
        if reason != wire.CONNECT_ERROR:
            self._next_wait_s = FIRST_WAIT_S
            return 0.0
        wait_s = self._next_wait_s
        self._next_wait_s = min(MAX_WAIT_S, wait_s * GROWTH)
        return wait_s
