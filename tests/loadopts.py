"""LoadOptions from a flag list, without importing Locust (which would monkey-patch pytest)."""

from __future__ import annotations

import argparse
from typing import Any

from harness.options import LoadOptions, add_arguments, load_options


class LocustLikeParser(argparse.ArgumentParser):
    """Takes Locust's extra add_argument keywords (env_var, is_secret) and drops them."""

    def add_argument(self, *args: Any, env_var: str | None = None, is_secret: bool = False, **kwargs: Any) -> Any:
        return super().add_argument(*args, **kwargs)


def options_from(argv: list[str], host: str | None = "http://127.0.0.1:9") -> LoadOptions:
    parser = LocustLikeParser()
    add_arguments(parser)
    return load_options(parser.parse_args(argv), host)
