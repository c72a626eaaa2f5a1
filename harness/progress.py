"""A progress line for headless runs: refreshed in place on a terminal, one line every 10 s otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

TERMINAL_REFRESH_S = 1.0
LOG_REFRESH_S = 10.0


class ProgressLine:
    """Holds where the last line went; `show` is cheap to call more often than it prints."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.terminal = self.stream.isatty()
        self.every_s = TERMINAL_REFRESH_S if self.terminal else LOG_REFRESH_S
        self._last_s = 0.0
        self._width = 0

    def show(self, text: str, force: bool = False) -> None:
        now_s = time.monotonic()
        if not force and now_s - self._last_s < self.every_s:
            return
        self._last_s = now_s
        if self.terminal:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def end(self) -> None:
        """Leave the terminal's line (the next output starts on its own)."""
        if self.terminal and self._width:
            self.stream.write("\n")
            self.stream.flush()
        self._width = 0


def eta_text(remaining: float, rate_per_s: float) -> str:
    """ "ETA 1m05s" for `remaining` units at `rate_per_s`; "ETA -" before there is a rate."""
    if rate_per_s <= 0:
        return "ETA -"
    seconds = int(remaining / rate_per_s)
    return f"ETA {seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"ETA {seconds}s"
