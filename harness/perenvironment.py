"""One typed value per Locust Environment, instead of untyped attributes set on it.

Locust's Environment declares its own attributes; omniload's parts of a run (the master
side, the load generator, the server scraper) each keep a `PerEnvironment` registry
beside their class, so a reader finds them typed, and nothing is read back with getattr.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from locust.env import Environment

Value = TypeVar("Value")


class PerEnvironment(Generic[Value]):
    """A value per Environment, held weakly (an Environment that goes takes its value with it)."""

    def __init__(self) -> None:
        self._held: weakref.WeakKeyDictionary[Environment, Value] = weakref.WeakKeyDictionary()

    def get(self, environment: Environment) -> Value | None:
        return self._held.get(environment)

    def set(self, environment: Environment, value: Value) -> Value:
        self._held[environment] = value
        return value
