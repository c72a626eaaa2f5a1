"""Probes (--probe-rate): small text requests beside the load, at a constant rate, on their own connections.

vLLM's newest benchmark answers "how does a video user slow a text user?" with probe
requests; here they are text-only chat completions of their own prompt and output
length, sent by one load generator (the single process, or worker 0) so the rate is the
run's. They take no permit: a stage's budget, users and figures are the load's alone;
their records say `request_class: "probe"` and the master gives them per stage apart
(harness/master/master.py). Their payloads are built before load, as every payload is,
and taken in turn.
"""

from __future__ import annotations

import gevent
from gevent.pool import Group

import dataclasses
import time
from typing import TYPE_CHECKING, Protocol

from harness.conversationspec import ConversationSpec
from harness.load.client import ChatClient
from harness.load.payloads import Payload, build_payloads
from harness.results import PROBE_CLASS
from harness.videospec import VideoSpec

if TYPE_CHECKING:
    from harness.options import LoadOptions, PayloadSpec
    from harness.records import RequestRecord
    from harness.tokenizer import Tokenizer
    from harness.wire import Permit


class ProbeHost(Protocol):
    """What a probe sender uses of its load generator (harness/load/generator.py)."""

    options: LoadOptions
    tokenizer: Tokenizer

    def count_tokens(self, texts: list[str]) -> list[int]: ...
    def next_user_number(self) -> int: ...
    def new_record(self, user: int, payload: Payload, permit: Permit | None) -> RequestRecord: ...
    def finish(self, record: RequestRecord, permit: Permit | None) -> None: ...


PROBE_POOL_SIZE = 64  # distinct probe payloads, taken in turn
PROBE_SEED = 9_999  # apart from the load's prompts
PROBE_DRAIN_S = 5.0


def probe_spec(spec: PayloadSpec) -> PayloadSpec:
    """The probes' payload spec: the run's settings, text only, their own prompt and output length."""
    return dataclasses.replace(
        spec,
        min_prompt_tokens=spec.probe_prompt_tokens,
        max_prompt_tokens=spec.probe_prompt_tokens,
        prefix_tokens=0,
        max_tokens=spec.probe_max_tokens,
        min_tokens=spec.probe_max_tokens if spec.min_tokens else 0,
        image_num=0,
        audio_num=0,
        image_dir=None,
        audio_dir=None,
        video=VideoSpec(),
        mix=(),
        conversation=ConversationSpec(),
    )


class ProbeSender:
    """Sends one probe every 1 / rate seconds (on an absolute schedule: no drift) until stopped."""

    def __init__(self, generator: ProbeHost) -> None:
        self.generator = generator
        self.spec = probe_spec(generator.options.payload)
        self.rate_rps = self.spec.probe_rate_rps
        self.payloads: list[Payload] = build_payloads(
            self.spec, generator.options.endpoint.model, generator.tokenizer, PROBE_POOL_SIZE, PROBE_SEED, PROBE_SEED
        )
        self._sending = Group()
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        started_s = time.monotonic()
        for index in range(2**62):  # bounded by stop(), which ends the run
            gevent.sleep(max(0.0, started_s + index / self.rate_rps - time.monotonic()))
            self._sending.spawn(self._send, self.payloads[index % len(self.payloads)])

    def _send(self, payload: Payload) -> None:
        generator = self.generator
        client = ChatClient(generator.options.connection, self.spec, generator.count_tokens)
        record = generator.new_record(generator.next_user_number(), payload, None)
        record.request_class = PROBE_CLASS
        try:
            client.send(payload, record)
        finally:
            client.close()
            generator.finish(record, None)

    def stop(self) -> None:
        """No new probe; those in flight get PROBE_DRAIN_S to finish (they are small), then are cut (their
        records say cancelled, as any cut request's)."""
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None
        self._sending.join(timeout=PROBE_DRAIN_S)
        self._sending.kill(block=True, timeout=5)
