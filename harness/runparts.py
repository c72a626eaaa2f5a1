"""What omniload adds to one Locust run, held in one typed place.

Locust's Environment declares its own attributes; omniload's parts (the master side,
the load generator, the server scraper) live here, keyed by the Environment they belong
to, instead of as untyped attributes set on it and read back with getattr.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from locust.env import Environment

    from harness.load.generator import LoadGenerator
    from harness.master.master import Master
    from harness.master.server_scrape import ServerScraper


@dataclass
class RunParts:
    """One process's parts of a run; each is None where this process does not run it."""

    master: Master | None = None  # the master side: the master, or a single process
    generator: LoadGenerator | None = None  # the load side: a worker, or a single process
    scraper: ServerScraper | None = None  # the server's /metrics, scraped for the report (vLLM)


_PARTS: weakref.WeakKeyDictionary[Environment, RunParts] = weakref.WeakKeyDictionary()


def parts(environment: Environment) -> RunParts:
    """The run's parts in this process (created empty on first use)."""
    held = _PARTS.get(environment)
    if held is None:
        held = _PARTS[environment] = RunParts()
    return held
