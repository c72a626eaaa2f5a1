"""Locust runners without Locust: message routing between a master and its workers in-process (tests, benches).

Like Locust's own test_runners.py, the master and worker logic run against a fake RPC:
`FakeCluster` routes `send_message` calls the way Locust's runners do (worker -> master
with the worker's node id, master -> one worker by client_id), synchronously.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

Handler = Callable[..., None]


@dataclass
class FakeMessage:
    type: str
    data: Any
    node_id: str


@dataclass
class FakeClient:
    id: str


@dataclass
class FakeClients:
    missing: list[FakeClient] = field(default_factory=list)


class FakeRunner:
    """What Master and LoadGenerator use of a Locust runner."""

    def __init__(self, cluster: FakeCluster, node_id: str) -> None:
        self.cluster = cluster
        self.node_id = node_id
        self.handlers: dict[str, Handler] = {}
        self.sent: list[tuple[str, Any]] = []
        self.user_count = 0

    def register_message(self, name: str, handler: Handler) -> None:
        self.handlers[name] = handler

    def send_message(self, message_type: str, data: Any = None, client_id: str | None = None) -> None:
        self.sent.append((message_type, data))
        self.cluster.deliver(self, message_type, data, client_id)


class FakeMasterRunner(FakeRunner):
    def __init__(self, cluster: FakeCluster) -> None:
        super().__init__(cluster, "master")
        self.clients = FakeClients()

    @property
    def worker_count(self) -> int:
        return len(self.cluster.workers)


class FakeCluster:
    """One master and any number of workers; messages are delivered at once, in order."""

    def __init__(self) -> None:
        self.master = FakeMasterRunner(self)
        self.workers: dict[str, FakeRunner] = {}

    def add_worker(self, node_id: str) -> FakeRunner:
        self.workers[node_id] = FakeRunner(self, node_id)
        return self.workers[node_id]

    def deliver(self, sender: FakeRunner, message_type: str, data: Any, client_id: str | None) -> None:
        if sender is self.master:
            assert client_id is not None, "the master sends to one worker"
            receiver, node_id = self.workers[client_id], "master"
        else:
            receiver, node_id = self.master, sender.node_id
        handler = receiver.handlers[message_type]
        handler(environment=None, msg=FakeMessage(message_type, data, node_id))


class FakeStats:
    """Locust's RequestStats stand-in (importing locust here would monkey-patch too late).

    Holds the rows logged, by (name, method)."""

    def __init__(self) -> None:
        self.logged: dict[tuple[str, str], list[float]] = {}

    def get(self, name: str, method: str) -> Any:
        values = self.logged.setdefault((name, method), [])
        return SimpleNamespace(log=lambda response_time, content_length: values.append(response_time))


def fake_environment(runner: FakeRunner, num_users: int | None = None) -> Any:
    """An Environment stand-in: the runner, parsed options, Locust's statistics and a request event that
    records its calls."""
    fired: list[dict[str, Any]] = []
    request = SimpleNamespace(fire=lambda **kwargs: fired.append(kwargs), fired=fired)
    return SimpleNamespace(
        runner=runner,
        parsed_options=SimpleNamespace(num_users=num_users),
        events=SimpleNamespace(request=request),
        stats=FakeStats(),
    )
