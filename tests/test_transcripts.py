"""A real non-vLLM server's bytes (transformers serve 5.17), replayed: every stream ok, refusals caught before load."""

from __future__ import annotations

import pytest
from test_client import exchange

from harness.argparsing import BadOption
from harness.load.preflight import (
    check_prompt_with_server,
    check_request_shape,
    detect_server_profile,
    server_max_model_len,
)

from loadopts import options_from
from transcripts import pieces, transcript_server

CHAT = "/v1/chat/completions"
OPENAI = ["--server-profile", "openai", "--image-num", "0", "--min-prompt-length", "40", "--max-prompt-length", "40"]


@pytest.mark.parametrize("name", ["stream_include_usage.http", "stream_plain.http"])
def test_streams_without_done_are_ok_with_usage_read(name: str) -> None:
    assert len(pieces(name)) == 9  # head, 7 events, the last chunk: replayed as captured
    with transcript_server({CHAT: name}) as url:
        record = exchange(url, [*OPENAI, "--max-tokens", "6"])
    assert record.status == "ok", record.error
    assert (record.prompt_tokens, record.completion_tokens, record.tokens_source) == (10, 6, "usage")
    assert record.done_marker is False and record.finish_reason == "length"
    assert len(record.itl_s) == 4 and sum(record.tokens_per_event) == 6  # 5 output events carry 6 tokens


def test_a_token_split_over_two_events_is_normal() -> None:
    """7 output events for completion_tokens 6 (transformers serve's streamer): ok, judged by tokens, not cut off."""
    assert len(pieces("stream_split_token.http")) == 11
    with transcript_server({CHAT: "stream_split_token.http"}) as url:
        record = exchange(url, [*OPENAI, "--max-tokens", "6"])
    assert record.status == "ok", record.error
    assert record.completion_tokens == 6 and record.tokens_source == "usage" and len(record.itl_s) == 6
    assert len(record.tokens_per_event) == 7  # counted per event, locally (a split token counts in both)
    with transcript_server({CHAT: "stream_split_token.http"}) as url:
        record = exchange(url, [*OPENAI, "--max-tokens", "5"])
    assert record.error is not None and record.error["reason"] == "overlong_output"  # 6 tokens for 5: too long


def test_request_id_echo_and_a_whole_completion() -> None:
    with transcript_server({CHAT: "client_request_id_echoed.http"}) as url:
        record = exchange(url, [*OPENAI, "--max-tokens", "2"])
    assert record.status == "ok" and record.completion_tokens == 2
    with transcript_server({CHAT: "non_stream.http"}) as url:
        record = exchange(url, [*OPENAI, "--max-tokens", "6", "--no-stream"])
    assert record.status == "ok" and (record.prompt_tokens, record.completion_tokens) == (10, 6)


def test_the_vllm_fields_refusal_is_caught_by_the_preflight_with_the_flags_that_drop_them() -> None:
    options = options_from(["--model", "tiny-qwen3", "--server-profile", "vllm"], "http://127.0.0.1:9")
    with transcript_server({CHAT: "vllm_fields_rejected.http"}) as url:
        with pytest.raises(BadOption) as caught:
            check_request_shape(
                options_from(["--model", "tiny-qwen3", "--server-profile", "vllm"], url).endpoint, options.payload
            )
    message = str(caught.value)
    assert caught.value.flag == "--server-profile"
    assert "HTTP 422" in message and "min_tokens" in message and "ignore_eos" in message
    assert "--server-profile openai" in message and "--no-ignore-eos" in message


def test_no_tokenize_no_metrics_no_version_means_the_openai_profile() -> None:
    with transcript_server({CHAT: "stream_plain.http"}) as url:
        endpoint = options_from(["--model", "tiny-qwen3"], url).endpoint
        assert detect_server_profile(endpoint)[0] == "openai"
        assert server_max_model_len(endpoint) is None
        assert check_prompt_with_server(endpoint, "hello", 3) == {"skipped": "/tokenize answered HTTP 404"}
        openai = options_from(["--model", "tiny-qwen3", "--server-profile", "openai"], url)
        check_request_shape(openai.endpoint, openai.payload)  # the plain request shape goes through
