"""The payload factory: a plain run's payloads never repeat, however long it runs (refills from the builder process)."""

from __future__ import annotations

import gevent

from harness.load.builder import BuilderProcess
from harness.load.factory import PayloadFactory

from loadopts import options_from

BATCH = 4
SMALL = [
    "--model",
    "m",
    "--image-width",
    "16",
    "--image-height",
    "16",
    "--min-prompt-length",
    "24",
    "--max-prompt-length",
    "24",
    "--pool-size",
    str(BATCH),
]


def make_factory(builder: BuilderProcess) -> PayloadFactory:
    spec = options_from(SMALL).payload

    def batch(number: int) -> list:
        return builder.build(spec, "m", BATCH, 1000 * number, 0)

    return PayloadFactory(batch(0), batch)


def test_payloads_never_repeat_and_refills_run_ahead(builder: BuilderProcess) -> None:
    factory = make_factory(builder)
    bodies = [factory.take().body for _ in range(BATCH * 6)]
    assert len(set(bodies)) == len(bodies)  # every request its own prompt and image
    assert factory.reused == 0 and factory.built_during_load >= BATCH * 5


def test_an_empty_buffer_waits_for_the_next_batch_and_counts_the_wait(builder: BuilderProcess) -> None:
    factory = make_factory(builder)
    takers = [gevent.spawn(factory.take) for _ in range(BATCH * 3)]  # all at once: more than is built
    gevent.joinall(takers, timeout=60)
    assert all(taker.successful() for taker in takers), [taker.exception for taker in takers]
    assert len({taker.value.body for taker in takers}) == BATCH * 3
    assert factory.waits >= 1 and factory.wait_s > 0
