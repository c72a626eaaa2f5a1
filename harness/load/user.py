"""The Locust user: one streaming multimodal chat completion after another."""

from __future__ import annotations

import gevent
from locust import User, constant, task
from locust.env import Environment
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_WAITING

from harness.load.backoff import ConnectBackoff
from harness.load.client import ChatClient
from harness.load.generator import GENERATORS, LoadGenerator
from harness.load.pacing import coarse_wait
from harness.records import error_reason


class OmniChatUser(User):
    """A closed-loop user: one streaming multimodal chat completion after another.

    In a sweep, each request waits for a permit from the master, so a stage sends
    exactly its number of requests with exactly its users. The process's
    LoadGenerator (set up by harness/hooks.py) gives it payloads and keeps its records.
    """

    wait_time = constant(0)

    def on_start(self) -> None:
        self.generator = current_generator(self.environment)
        self.user_number = self.generator.next_user_number()
        options = self.generator.options
        self.client = ChatClient(options.connection, options.payload, self.generator.count_tokens)
        self.backoff = ConnectBackoff()

    def on_stop(self) -> None:
        self.client.close()

    @task
    def chat(self) -> None:
        # Waiting for a permit is waiting, not work: a stopping test ends the user at once.
        self._state = LOCUST_STATE_WAITING
        permit = self.generator.acquire_permit()
        self._state = LOCUST_STATE_RUNNING
        payload = self.generator.take_payload()
        record = self.generator.new_record(self.user_number, payload, permit)
        if record.due_s is not None:  # a rate stage: connect ahead, then wait; the send waits the last ms
            self._state = LOCUST_STATE_WAITING
            self.client.connect_ahead()
            coarse_wait(record.due_s)
            self._state = LOCUST_STATE_RUNNING
        try:
            self.client.send(payload, record)
        finally:
            self.generator.finish(record, permit)
        wait_s = self.backoff.wait_after(error_reason(record))
        if wait_s:
            self._state = LOCUST_STATE_WAITING  # a stopping test ends the wait at once
            gevent.sleep(wait_s)


def current_generator(environment: Environment) -> LoadGenerator:
    generator = GENERATORS.get(environment)
    if generator is None:
        raise RuntimeError("omniload's hooks did not run (load a locustfile that imports harness.hooks)")
    return generator
