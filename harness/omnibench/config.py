"""The OmniBench pass's settings: one type, one set of defaults, one validation.

Both entry points use it: `omniload omnibench --limit N ...` (flag prefix "--") and the
pass after a load run, `--omnibench --omnibench-limit N ...` (prefix "--omnibench-").
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.argparsing import BadOption, at_least

DEFAULT_MAX_TOKENS = 10000
DEFAULT_CONCURRENCY = 1
DEFAULT_TEMPERATURE = 0.0
STANDALONE_PREFIX = "--"
AFTER_LOAD_PREFIX = "--omnibench-"


@dataclass(frozen=True)
class OmniBenchConfig:
    """What the pass asks and how (the endpoint and report directory come from the caller)."""

    dataset: str | None = None  # parquet file/folder or hub id; None: the bundled sample set
    limit: int | None = None  # first N samples; None: all
    use_image: bool = True
    use_audio: bool = True
    concurrency: int = DEFAULT_CONCURRENCY  # requests at a time
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = DEFAULT_TEMPERATURE
    resume: bool = True  # answered samples already in the report directory are not asked again


def add_omnibench_arguments(add: Callable[..., Any], prefix: str) -> None:
    """Add the pass's flags through `add(flag, **kwargs)`, each named `prefix` + its name."""
    add(f"{prefix}dataset", default="", help="OmniBench parquet file/folder or hub id (default: bundled samples)")
    add(f"{prefix}limit", type=int, default=0, help="OmniBench: first N samples (0: all)")
    add(f"{prefix}use-image", action=argparse.BooleanOptionalAction, default=True, help="OmniBench: send images")
    add(f"{prefix}use-audio", action=argparse.BooleanOptionalAction, default=True, help="OmniBench: send audio")
    add(f"{prefix}concurrency", type=int, default=DEFAULT_CONCURRENCY, help="OmniBench: requests at a time")
    add(f"{prefix}max-tokens", type=int, default=DEFAULT_MAX_TOKENS, help="OmniBench: max_tokens")
    add(f"{prefix}temperature", type=float, default=DEFAULT_TEMPERATURE, help="OmniBench: temperature")
    add(
        f"{prefix}resume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="OmniBench: keep the answers already in the report directory and ask only the rest (it says how "
        "many); the --no- form asks every sample again",
    )


def omnibench_config(parsed: argparse.Namespace, prefix: str) -> OmniBenchConfig:
    """The validated settings from parsed flags; BadOption names the flag as the user typed it."""

    def value(name: str) -> Any:
        return getattr(parsed, (prefix + name).lstrip("-").replace("-", "_"))

    at_least(f"{prefix}limit", value("limit"), 0)
    at_least(f"{prefix}concurrency", value("concurrency"), 1)
    at_least(f"{prefix}max-tokens", value("max-tokens"), 1)
    temperature = value("temperature")
    if not 0 <= temperature < float("inf"):
        raise BadOption(f"{prefix}temperature", f"{temperature} must be a finite number, 0 or more")
    return OmniBenchConfig(
        dataset=value("dataset") or None,
        limit=value("limit") or None,
        use_image=value("use-image"),
        use_audio=value("use-audio"),
        concurrency=value("concurrency"),
        max_tokens=value("max-tokens"),
        temperature=temperature,
        resume=value("resume"),
    )
