"""The streaming client over real HTTP: framing quirks from a scripted server, faults from the simulator."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.devtools.simprocess import SimProcess, start_sim
from harness.load.audio import decoded_seconds
from harness.load.client import ChatClient
from harness.load.payloads import build_payloads
from harness.media_tokens import audio_tokens
from harness.records import RequestRecord
from harness.tokenizer import count_tokens_batch, load_tokenizer

from common import MODEL
from loadopts import options_from
from rawserver import LAST_CHUNK, SSE_HEAD, chunk, scripted_server

SMALL = ["--min-prompt-length", "40", "--max-prompt-length", "40", "--image-num", "0"]


def count_tokens(texts: list[str]) -> list[int]:
    return count_tokens_batch(load_tokenizer(), texts)


def exchange(base_url: str, argv: list[str], headers: dict[str, str] | None = None) -> RequestRecord:
    options = options_from(["--model", MODEL, *argv], host=base_url)
    payload = build_payloads(options.payload, options.endpoint.model, load_tokenizer(), 1, seed=0, prefix_seed=0)[0]
    client = ChatClient(options.connection, options.payload, count_tokens)
    client.headers.update(headers or {})
    record = RequestRecord("req-1", 0, 0, 0, 0.0, payload.expected_text_tokens)
    try:
        client.send(payload, record)
    finally:
        client.close()
    return record


def event(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> bytes:
    body: dict[str, Any] = {"id": "x", "object": "chat.completion.chunk", "model": MODEL, "choices": []}
    if delta is not None:
        body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    body.update(extra)
    return b"data: " + json.dumps(body).encode() + b"\n\n"


ROLE = event({"role": "assistant", "content": ""})
USAGE = event(usage={"prompt_tokens": 40, "completion_tokens": 3, "total_tokens": 43})
DONE = b"data: [DONE]\n\n"


def test_ttft_skips_the_role_event_and_quirky_framing_parses() -> None:
    first = event({"content": " alpha"})
    script = [
        (0.0, SSE_HEAD + chunk(ROLE.replace(b"\n", b"\r\n")) + chunk(b": keep-alive\r\n\r\n")),
        (0.15, chunk(first[:20])),  # the first token's event, split across two writes
        (0.02, chunk(first[20:])),
        (0.02, chunk(b"data:" + event({"content": " beta gamma"})[6:] + event({}, "length"))),  # no space; two events
        (
            0.0,
            chunk(
                b'data: {"id": "x", "object": "chat.completion.chunk", "choices": [],\ndata:  "usage": '
                b'{"prompt_tokens": 40, "completion_tokens": 3}}\n\n'
            ),
        ),  # multi-line data
        (0.0, chunk(DONE) + LAST_CHUNK),
    ]
    with scripted_server(script) as url:
        record = exchange(url, [*SMALL, "--max-tokens", "3"])
    assert record.status == "ok", record.error
    assert 0.165 <= record.ttft_s <= 0.165 + 0.03  # type: ignore[operator]  # the second half's write, not the role's
    assert record.ttfb_s < 0.05  # type: ignore[operator]
    assert (record.prompt_tokens, record.completion_tokens, record.tokens_source) == (40, 3, "usage")
    assert record.tokens_per_event == [1, 2]  # " beta gamma" is two tokens in one event
    assert record.finish_reason == "length"
    assert len(record.itl_s) == 1 and 0.015 <= record.itl_s[0] <= 0.05


def test_each_read_notes_its_delay_after_the_kernel_stamp() -> None:
    """The self-watch's read delay: a loop blocked while a token arrives shows as a late read, not a late TTFT."""
    import gevent

    from harness.load.http1 import READ_DELAYS_S

    script = [
        (0.0, SSE_HEAD + chunk(ROLE)),
        (0.1, chunk(event({"content": " a b c"}, "length") + USAGE + DONE) + LAST_CHUNK),
    ]
    READ_DELAYS_S.clear()

    def hold_the_loop_after_the_first_read() -> None:
        deadline_s = time.monotonic() + 10
        while not READ_DELAYS_S and time.monotonic() < deadline_s:
            gevent.sleep(0.001)
        time.sleep(0.15)  # a GIL-heavy greenlet: the token arrives 0.1 s after the role, in the middle of this

    gevent.spawn(hold_the_loop_after_the_first_read)
    with scripted_server(script) as url:
        record = exchange(url, [*SMALL, "--max-tokens", "3"])
    assert record.status == "ok", record.error
    assert 0.1 <= record.ttft_s < 0.13  # type: ignore[operator]  # the kernel's stamp: the loop's delay is not in it
    assert len(READ_DELAYS_S) >= 2 and min(READ_DELAYS_S) >= 0 and max(READ_DELAYS_S) >= 0.03  # the token's read


def test_missing_usage_is_counted_locally_and_flagged() -> None:
    script = [
        (
            0.0,
            SSE_HEAD
            + chunk(ROLE + event({"content": " one"}) + event({"content": " two"}, "stop") + DONE)
            + LAST_CHUNK,
        )
    ]
    with scripted_server(script) as url:
        record = exchange(url, [*SMALL, "--max-tokens", "2"])
    assert record.status == "ok", record.error
    assert (record.completion_tokens, record.tokens_source, record.prompt_tokens) == (2, "local", None)


def test_close_delimited_stream_without_chunking() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    with scripted_server([(0.0, head + ROLE + event({"content": " a"}, "stop") + USAGE + DONE)]) as url:
        record = exchange(url, [*SMALL, "--max-tokens", "3", "--min-tokens", "0"])
    assert record.status == "ok", record.error


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        (
            [
                (
                    0.0,
                    SSE_HEAD
                    + chunk(ROLE + event({"content": " a"}) + b'data: {"error": {"message": "engine died"}}\n\n' + DONE)
                    + LAST_CHUNK,
                )
            ],
            "server_error_event",
        ),
        ([(0.0, SSE_HEAD + chunk(ROLE + event({"content": " a"})) + LAST_CHUNK)], "stream_truncated"),  # no finish
        ([(0.0, b"")], "connect_error"),  # closed before any response byte
        ([(0.0, SSE_HEAD + chunk(b"<html><body>Bad Gateway</body></html>\n") + LAST_CHUNK)], "malformed_event"),
        (
            [
                (
                    0.0,
                    SSE_HEAD
                    + chunk(b'data: {"choices": {"a": 1}}\n\n' + event({"content": " a"}, "stop") + DONE)
                    + LAST_CHUNK,
                )
            ],
            "malformed_event",
        ),
        (
            [
                (
                    0.0,
                    SSE_HEAD
                    + chunk(
                        ROLE
                        + event({"content": " a"}, "stop")
                        + event(usage={"prompt_tokens": "40", "completion_tokens": 1})
                    )
                    + LAST_CHUNK,
                )
            ],
            "malformed_event",
        ),
        (
            [
                (
                    0.0,
                    SSE_HEAD
                    + chunk(
                        ROLE
                        + event({"content": " a"}, "stop")
                        + event(usage={"prompt_tokens": 40, "completion_tokens": 5})
                    )
                    + LAST_CHUNK,
                )
            ],
            "overlong_output",
        ),
        (
            [(0.0, SSE_HEAD + chunk(ROLE + event({"content": " a"})))],
            "stream_truncated",
        ),  # connection closes mid-stream
        (
            [(0.0, SSE_HEAD + chunk(ROLE + b"data: {half\n\n" + event({"content": " a"}, "stop") + DONE) + LAST_CHUNK)],
            "malformed_event",
        ),
        (
            [
                (
                    0.0,
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 34\r\n\r\n"
                    b'{"error": {"message": "overload"}}',
                )
            ],
            "http_503",
        ),
        (
            [(0.0, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")],
            "malformed_event",
        ),
        ([(0.0, SSE_HEAD + chunk(ROLE)), (0.6, chunk(DONE) + LAST_CHUNK)], "timeout"),
    ],
)
def test_failures_are_classified_and_kept(script: list[tuple[float, bytes]], reason: str) -> None:
    with scripted_server(script) as url:
        record = exchange(url, [*SMALL, "--max-tokens", "1", "--min-tokens", "0", "--read-timeout", "0.3"])
    assert record.status == "error"
    assert record.error is not None and record.error["reason"] == reason, record.error
    assert record.duration_s is not None and record.duration_s >= 0


def test_a_stream_without_done_that_ends_normally_is_complete() -> None:
    """Real servers (transformers serve) omit data: [DONE]; the finish_reason and the chunked end suffice."""
    with scripted_server(
        [(0.0, SSE_HEAD + chunk(ROLE + event({"content": " a"}, "stop") + USAGE) + LAST_CHUNK)]
    ) as url:
        record = exchange(url, [*SMALL, "--max-tokens", "3", "--min-tokens", "0"])
    assert record.status == "ok", record.error
    assert record.done_marker is False and record.completion_tokens == 3


@pytest.mark.parametrize(
    ("repeat", "argv", "reason"),
    [
        # output forever: ended as soon as it passes max_tokens
        ((0.001, chunk(event({"content": " a"}))), [], "overlong_output"),
        # keep-alive comments forever: each gap is short, the whole is bounded by --total-timeout
        ((0.05, chunk(b": keep-alive\n\n")), ["--total-timeout", "1"], "timeout"),
        # one data line that never ends (it would grow memory without a bound)
        ((0.0, chunk(b"x" * 1_048_576)), [], "malformed_event"),
    ],
)
def test_an_endless_answer_cannot_hang_a_run(repeat: tuple[float, bytes], argv: list[str], reason: str) -> None:
    with scripted_server([(0.0, SSE_HEAD + chunk(ROLE))], repeat=repeat) as url:
        started_s = time.monotonic()
        record = exchange(url, [*SMALL, "--max-tokens", "5", "--min-tokens", "0", *argv])
    assert record.error is not None and record.error["reason"] == reason, record.error
    assert time.monotonic() - started_s < 10 and record.duration_s is not None and record.duration_s < 10


def test_a_timeout_before_any_byte_counts_its_wait() -> None:
    with scripted_server([(1.0, b"")]) as url:
        record = exchange(url, [*SMALL, "--read-timeout", "0.4"])
    assert record.error is not None and record.error["reason"] == "timeout"
    assert 0.35 <= record.duration_s <= 1.0  # type: ignore[operator]


def test_an_unexpected_client_error_is_classified_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.load import stream

    def broken(*_: Any) -> None:
        raise RuntimeError("a bug in the client")

    monkeypatch.setattr(stream.ChatStream, "on_event", broken)
    with scripted_server(
        [(0.0, SSE_HEAD + chunk(ROLE + event({"content": " a"}, "stop") + USAGE) + LAST_CHUNK)]
    ) as url:
        record = exchange(url, [*SMALL, "--max-tokens", "3"])
    assert record.error == {"reason": "client_error", "message": "RuntimeError: a bug in the client"}


def test_refused_connection_is_connect_error() -> None:
    with scripted_server([]) as url:
        pass  # closed: nothing listens on that port any more
    record = exchange(url, SMALL)
    assert record.error is not None and record.error["reason"] == "connect_error"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    process = start_sim(["--fixed", "20", "2", "--model", MODEL])
    yield process
    process.stop()


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("http_500", "http_500"),
        ("http_429", "http_429"),
        ("disconnect@3", "stream_truncated"),
        ("malformed@3", "malformed_event"),
        ("error_event@3", "server_error_event"),
        ("cut@3", "stream_truncated"),
        ("short@5", "short_output"),
    ],
)
def test_simulator_faults_are_classified(sim: SimProcess, fault: str, reason: str) -> None:
    record = exchange(sim.base_url, [*SMALL, "--max-tokens", "10"], headers={"X-Sim-Fault": fault})
    assert record.error is not None and record.error["reason"] == reason, record.error


def test_the_simulators_stream_without_done_is_complete(sim: SimProcess) -> None:
    record = exchange(sim.base_url, [*SMALL, "--max-tokens", "10"], headers={"X-Sim-Fault": "no_done"})
    assert record.status == "ok" and record.done_marker is False and record.completion_tokens == 10


def test_forced_output_length_and_text_tokens_match_the_server(sim: SimProcess) -> None:
    record = exchange(
        sim.base_url,
        [
            "--min-prompt-length",
            "300",
            "--max-prompt-length",
            "300",
            "--max-tokens",
            "17",
            "--image-width",
            "512",
            "--image-height",
            "512",
        ],
    )
    assert record.status == "ok", record.error
    assert record.completion_tokens == 17 and record.tokens_per_event == [1] * 17
    assert record.prompt_tokens == 300 + 258  # the simulator's count: text exactly as built + a 512x512 image
    assert record.multimodal_tokens == 258


def test_non_streamed_request(sim: SimProcess) -> None:
    record = exchange(sim.base_url, [*SMALL, "--max-tokens", "12", "--no-stream"])
    assert record.status == "ok", record.error
    assert record.completion_tokens == 12 and record.ttft_s == record.latency_s
    assert record.itl_s == [] and record.tpot_s is None


def test_a_stream_over_https_is_read_and_timed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TLS cannot recvmsg: the https path reads through gevent's SSL socket, stamps on return."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client's default context trusts it
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    script = [
        (0.0, SSE_HEAD + chunk(ROLE)),
        (0.05, chunk(event({"content": " a"}))),
        (0.05, chunk(event({"content": " b"}, "stop") + USAGE + DONE) + LAST_CHUNK),
    ]
    with scripted_server(script, wrap=lambda connection: context.wrap_socket(connection, server_side=True)) as url:
        record = exchange(url.replace("http://", "https://"), [*SMALL, "--max-tokens", "3", "--min-tokens", "0"])
    assert record.status == "ok", record.error
    assert record.completion_tokens == 3 and record.ttft_s is not None and len(record.itl_s) == 1
    assert 0.03 <= record.itl_s[0] <= 0.5  # the second token's read came ~50 ms after the first


@pytest.mark.parametrize("audio_format", ["wav", "flac", "mp3"])
def test_audio_clips_carry_their_length_and_the_server_counts_the_expected_tokens(
    audio_format: str, tmp_path: Path
) -> None:
    sim = start_sim(["--fixed", "5", "1", "--model", MODEL], ground_truth=str(tmp_path / "gt.jsonl"))
    argv = [
        *SMALL,
        "--max-tokens",
        "3",
        "--audio-num",
        "2",
        "--audio-seconds",
        "1.5",
        "6.5",
        "--audio-format",
        audio_format,
        "--image-num",
        "1",
        "--image-width",
        "64",
        "--image-height",
        "64",
    ]
    try:
        options = options_from(["--model", MODEL, *argv], host=sim.base_url)
        payloads = build_payloads(options.payload, MODEL, load_tokenizer(), 3, seed=0, prefix_seed=0)
        records = []
        for index, payload in enumerate(payloads):
            client = ChatClient(options.connection, options.payload, count_tokens)
            record = RequestRecord(f"audio-{index}", 0, 0, 0, 0.0, payload.expected_text_tokens)
            client.send(payload, record)
            client.close()
            records.append((record, payload))
    finally:
        sim.stop()  # its last ground-truth line is written just after the response's last byte
    truth = {request["request_id"]: request for request in sim.ground_truth_records()}
    for record, payload in records:
        assert record.status == "ok", record.error
        body = json.loads(payload.body)
        clips = [part for part in body["messages"][0]["content"] if part["type"] == "input_audio"]
        assert len(clips) == 2 and {clip["input_audio"]["format"] for clip in clips} == {audio_format}
        lengths_s = [decoded_seconds(base64.b64decode(clip["input_audio"]["data"])) for clip in clips]
        assert all(1.5 <= seconds <= 6.6 for seconds in lengths_s), lengths_s  # MP3 frames pad a little
        server = truth[record.request_id]
        assert server["audio_tokens"] == sum(audio_tokens(seconds) for seconds in lengths_s)
        assert (
            record.multimodal_tokens == payload.expected_media_tokens == server["audio_tokens"] + server["image_tokens"]
        )
    assert len({record.multimodal_tokens for record, _ in records}) > 1  # lengths drawn in [1.5, 6.5] s
