"""The SSE reader against every framing quirk servers produce, one read at a time."""

from __future__ import annotations

import pytest

from harness.load.sse import SseReader


def feed_all(reads: list[bytes]) -> list[tuple[float, bytes]]:
    reader = SseReader()
    events = []
    for arrived_s, chunk in enumerate(reads):
        events += [(event.arrived_s, event.data) for event in reader.feed(chunk, float(arrived_s))]
    return events


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_each_line_ending(newline: bytes) -> None:
    stream = b"data: one" + newline + newline + b"data: two" + newline + newline
    assert feed_all([stream]) == [(0.0, b"one"), (0.0, b"two")]


def test_crlf_split_between_reads_is_one_line_end() -> None:
    assert feed_all([b"data: one\r", b"\n\r", b"\ndata: two\r\n\r\n"]) == [(1.0, b"one"), (2.0, b"two")]


def test_multi_line_data_is_joined_with_lf() -> None:
    assert feed_all([b'data: {"a":\ndata: 1}\n\n']) == [(0.0, b'{"a":\n1}')]


def test_comments_keepalives_and_other_fields_carry_nothing() -> None:
    stream = b": keep-alive\n\nevent: message\nid: 7\nretry: 10\ndata: x\n\n:\n\n"
    assert feed_all([stream]) == [(0.0, b"x")]


def test_data_without_space_and_with_two_spaces() -> None:
    assert feed_all([b"data:x\n\ndata:  y\n\n"]) == [(0.0, b"x"), (0.0, b" y")]


def test_event_split_byte_by_byte_is_stamped_by_its_last_read() -> None:
    stream = b'data: {"k": 1}\n\n'
    events = feed_all([stream[i : i + 1] for i in range(len(stream))])
    assert events == [(float(len(stream) - 1), b'{"k": 1}')]


def test_several_events_in_one_read_share_its_time() -> None:
    assert feed_all([b"data: a\n\ndata: b\n\ndata: [DONE]\n\n"]) == [(0.0, b"a"), (0.0, b"b"), (0.0, b"[DONE]")]


def test_unfinished_event_waits_for_its_blank_line() -> None:
    reader = SseReader()
    assert reader.feed(b"data: cut off mid-ev", 0.0) == []
    assert reader.feed(b"ent\n", 1.0) == []
    assert [(e.arrived_s, e.data) for e in reader.feed(b"\n", 2.0)] == [(2.0, b"cut off mid-event")]
