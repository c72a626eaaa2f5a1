"""The payload builder process: builds in a child what the load process would have built itself."""

from __future__ import annotations

import gevent

import time

import pytest

from harness.load.builder import BuilderProcess
from harness.load.payloads import build_payloads
from harness.tokenizer import load_tokenizer

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
]


def test_the_child_builds_what_the_parent_would(builder: BuilderProcess) -> None:
    spec = options_from(SMALL).payload
    here = build_payloads(spec, "m", load_tokenizer(), BATCH, 7, 0)
    assert builder.build(spec, "m", BATCH, 7, 0) == here  # same seed, same bytes, same expectations


def test_a_failed_build_raises_in_the_parent_and_the_child_keeps_serving(builder: BuilderProcess) -> None:
    spec = options_from(SMALL).payload
    with pytest.raises(RuntimeError, match="payload builder process: ValueError"):
        builder.build(spec, "m", -1, 1, 0)  # a negative count: numpy refuses it
    assert len(builder.build(spec, "m", BATCH, 1, 0)) == BATCH


def test_close_ends_the_child() -> None:
    process = BuilderProcess()
    process.close()
    assert process.process.poll() is not None


def test_close_during_a_build_ends_it_before_the_pipes_close() -> None:
    """A refill in flight at the end of a run: its thread sees the child end, never a reused descriptor."""
    process = BuilderProcess()
    spec = options_from(SMALL).payload
    build = gevent.get_hub().threadpool.spawn(process.build, spec, "m", 200, 1, 0)  # seconds of work
    deadline_s = time.monotonic() + 30
    while not process._building.locked() and time.monotonic() < deadline_s:
        gevent.sleep(0.001)
    process.close()
    with pytest.raises(EOFError):
        build.get(timeout=10)
    assert process.process.poll() is not None
    with pytest.raises(EOFError, match="closed"):
        process.build(spec, "m", 1, 1, 0)
