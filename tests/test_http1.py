"""HTTP/1.1 response framing: chunked, Content-Length and close-delimited bodies, split anywhere."""

from __future__ import annotations

import pytest

from harness.load.http1 import ConnectionLost, HttpProtocolError, ResponseParser

CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"7\r\ndata: a\r\n9;ext=1\r\n\ndata: b\n\r\n0\r\nX-Trailer: t\r\n\r\n"
)


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 1000])
def test_chunked_body_split_anywhere(piece: int) -> None:
    parser = ResponseParser()
    body = b"".join(parser.feed(CHUNKED[i : i + piece]) for i in range(0, len(CHUNKED), piece))
    assert body == b"data: a\ndata: b\n"
    assert parser.response.status == 200
    assert parser.response.headers["content-type"] == "text/event-stream"
    assert parser.response.complete and parser.response.keep_alive


def test_content_length_body_and_connection_close() -> None:
    parser = ResponseParser()
    body = parser.feed(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\nConnection: close\r\n\r\nabc")
    body += parser.feed(b"de")
    assert (body, parser.response.status, parser.response.complete, parser.response.keep_alive) == (
        b"abcde",
        500,
        True,
        False,
    )


def test_close_delimited_body_ends_at_eof() -> None:
    parser = ResponseParser()
    assert parser.feed(b"HTTP/1.0 200 OK\r\n\r\ndata: x\n\n") == b"data: x\n\n"
    parser.feed_eof()
    assert parser.response.complete and not parser.response.keep_alive


def test_eof_inside_a_chunked_body_is_connection_lost() -> None:
    parser = ResponseParser()
    parser.feed(CHUNKED[:80])
    with pytest.raises(ConnectionLost):
        parser.feed_eof()


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 2xx OK\r\n\r\n",
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_broken_framing_is_a_protocol_error(response: bytes) -> None:
    with pytest.raises(HttpProtocolError):
        ResponseParser().feed(response)
