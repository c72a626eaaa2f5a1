"""LoadOptions from a flag list, without importing Locust (which would monkey-patch pytest)."""

from __future__ import annotations

from harness.options import LoadOptions, options_from_argv


def options_from(argv: list[str], host: str | None = "http://127.0.0.1:9") -> LoadOptions:
    return options_from_argv(argv, host)
