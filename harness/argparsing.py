"""Bad input, said in one line that names the flag, with exit code 2 — before any load is sent."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import NoReturn

BAD_INPUT_EXIT_CODE = 2


class BadOption(ValueError):
    """Bad input for one flag; the message names the flag."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"{flag}: {message}")
        self.flag = flag


def exit_bad_option(error: BadOption, prog: str = "omniload") -> NoReturn:
    """One line on stderr naming the flag, exit code 2.

    Also from a greenlet: gevent re-raises SystemExit in the main greenlet.
    """
    sys.stderr.write(f"{prog}: error: {error}\n")
    sys.stderr.flush()
    sys.exit(BAD_INPUT_EXIT_CODE)


def at_least(flag: str, value: int, minimum: int, minimum_flag: str | None = None) -> None:
    """Raise BadOption unless value >= minimum (named by minimum_flag when it is another flag)."""
    if value < minimum:
        bound = f"{minimum_flag} {minimum}" if minimum_flag else str(minimum)
        raise BadOption(flag, f"{value} is less than {bound}")


def refuse_given(flags: Iterable[tuple[str, object]], why: str) -> None:
    """Raise BadOption(flag, why) for the first (flag, value) whose value was given (truthy)."""
    for flag, given in flags:
        if given:
            raise BadOption(flag, why)


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are one line naming the flag, exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(BAD_INPUT_EXIT_CODE)
