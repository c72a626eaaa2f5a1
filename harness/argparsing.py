"""An argparse parser whose errors are one line naming the flag, exit code 2."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

BAD_INPUT_EXIT_CODE = 2


class OneLineArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(BAD_INPUT_EXIT_CODE)
