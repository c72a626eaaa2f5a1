"""The Locust user: one streaming multimodal chat completion after another."""

from __future__ import annotations

import gevent
from locust import User, constant, task
from locust.env import Environment
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_WAITING

from harness.conversationspec import MAX_TURNS
from harness.load.backoff import ConnectBackoff
from harness.load.client import ChatClient
from harness.load.conversation import next_turn
from harness.load.generator import GENERATORS, LoadGenerator
from harness.load.pacing import coarse_wait
from harness.load.payloads import Payload
from harness.records import RequestRecord, error_reason
from harness.wire import Permit


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
        """One request; with --multi-turn, one conversation: a request per turn, each with its own permit,
        each later turn sent after the previous one's answer (and the think time), on this user's connection.
        A failed turn ends its conversation (there is no answer to continue from)."""
        first = None
        conversation = None
        think_s = self.generator.options.payload.conversation.think_time_s
        for turn in range(1, MAX_TURNS + 1):  # bounded by the conversation's own turns
            if turn > 1 and think_s:
                self._wait(think_s)
            # Waiting for a permit is waiting, not work: a stopping test ends the user at once.
            self._state = LOCUST_STATE_WAITING
            permit = self.generator.acquire_permit()
            self._state = LOCUST_STATE_RUNNING
            if first is None:
                payload = first = self.generator.take_payload(permit)
            else:
                payload = next_turn(first, payload.body, self.client.last_answer, turn)
            record = self.generator.new_record(self.user_number, payload, permit)
            if first.turns > 1:
                conversation = conversation or record.request_id
                record.conversation, record.turn = conversation, turn
            self._send(payload, record, permit)
            wait_s = self.backoff.wait_after(error_reason(record))
            if wait_s:
                self._wait(wait_s)
            if record.status != "ok" or turn >= first.turns:
                return

    def _send(self, payload: Payload, record: RequestRecord, permit: Permit | None) -> None:
        if record.due_s is not None:  # a rate stage: connect ahead, then wait; the send waits the last ms
            self._state = LOCUST_STATE_WAITING
            self.client.connect_ahead()
            coarse_wait(record.due_s)
            self._state = LOCUST_STATE_RUNNING
        try:
            self.client.send(payload, record)
        finally:
            self.generator.finish(record, permit)
            self.generator.keep_body(record, payload.body)

    def _wait(self, seconds: float) -> None:
        self._state = LOCUST_STATE_WAITING  # a stopping test ends the wait at once
        gevent.sleep(seconds)
        self._state = LOCUST_STATE_RUNNING


def current_generator(environment: Environment) -> LoadGenerator:
    generator = GENERATORS.get(environment)
    if generator is None:
        raise RuntimeError("omniload's hooks did not run (load a locustfile that imports harness.hooks)")
    return generator
