"""What a chat completion stream said, event by event (OpenAI/vLLM chunk format)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.completions import error_message
from harness.load.sse import SseEvent
from harness.load.stream import ChatStream, parse_completion


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> bytes:
    body: dict[str, Any] = {"id": "c", "object": "chat.completion.chunk", "choices": []}
    if delta is not None:
        body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    body.update(extra)
    return json.dumps(body).encode()


def run(*events: bytes) -> ChatStream:
    stream = ChatStream()
    for arrived_s, data in enumerate(events):
        stream.on_event(SseEvent(float(arrived_s), data))
    return stream


USAGE = chunk(usage={"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13})


def test_role_only_and_empty_deltas_do_not_count_as_output() -> None:
    stream = run(
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": ""}),
        chunk({"content": "Hi"}),
        chunk({"content": " there"}, "stop"),
        USAGE,
        b"[DONE]",
    )
    assert stream.output_times_s == [2.0, 3.0]
    assert stream.first_content_s == 2.0
    assert stream.last_event_s == 4.0  # the usage event, not [DONE]
    assert (stream.prompt_tokens, stream.completion_tokens, stream.finish_reason) == (10, 3, "stop")
    assert stream.end_failure() is None


def test_reasoning_counts_for_ttft_but_not_ttfot() -> None:
    stream = run(
        chunk({"reasoning_content": "think"}), chunk({"reasoning": "more"}), chunk({"content": "A"}, "stop"), b"[DONE]"
    )
    assert stream.output_times_s == [0.0, 1.0, 2.0]
    assert stream.first_content_s == 2.0
    assert stream.output_texts == ["think", "more", "A"]


def test_tool_call_deltas_carry_output() -> None:
    call = {"index": 0, "id": "t", "type": "function", "function": {"name": "f", "arguments": '{"x"'}}
    stream = run(chunk({"tool_calls": [call]}, "tool_calls"), b"[DONE]")
    assert stream.output_texts == ['{"x"']
    assert stream.first_content_s == 0.0


def test_several_tokens_in_one_event_are_one_output_event() -> None:
    stream = run(chunk({"content": " one two three"}, "length"), b"[DONE]")
    assert stream.output_texts == [" one two three"]


def test_error_event_after_200_is_a_server_error_event() -> None:
    error = json.dumps({"error": {"message": "engine died", "type": "InternalServerError", "code": 500}}).encode()
    stream = run(chunk({"content": "A"}), error, b"[DONE]")
    assert stream.end_failure() == ("server_error_event", "engine died")
    legacy = json.dumps({"object": "error", "message": "old style", "type": "BadRequestError"}).encode()
    assert run(legacy).end_failure() == ("server_error_event", "old style")


def test_malformed_event_is_kept_as_the_failure() -> None:
    stream = run(chunk({"content": "A"}), b"{not json", chunk({"content": "B"}, "stop"), b"[DONE]")
    assert stream.end_failure()[0] == "malformed_event"  # type: ignore[index]
    assert stream.output_texts == ["A", "B"]  # the rest of the stream is still read


def test_done_is_optional_but_a_finish_reason_is_not() -> None:
    without_done = run(chunk({"content": "A"}, "stop"))
    assert without_done.end_failure() is None and not without_done.done
    assert run(chunk({"content": "A"}), b"[DONE]").end_failure()[0] == "stream_truncated"  # type: ignore[index]


@pytest.mark.parametrize(
    "data",
    [
        b'{"choices": {"0": {}}}',  # choices not a list
        b'{"choices": [{"delta": "A"}]}',  # delta a string
        b'{"choices": ["A"]}',  # a choice that is not an object
        b'{"choices": [], "usage": {"prompt_tokens": "12", "completion_tokens": 3}}',  # a count as a string
        b'{"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": true}}',
        b'{"choices": [], "usage": ["x"]}',
    ],
)
def test_chunks_of_the_wrong_shape_are_malformed_not_a_crash(data: bytes) -> None:
    stream = run(data, chunk({"content": "A"}, "stop"), b"[DONE]")
    assert stream.end_failure()[0] == "malformed_event"  # type: ignore[index]


def test_only_a_clearly_endless_stream_is_cut_off() -> None:
    """max_tokens 2: a split token's extra event is normal; past 2 x 2 + 64 events the stream is endless."""
    stream = ChatStream(max_tokens=2)
    for index in range(2 * 2 + 64):
        stream.on_event(SseEvent(float(index), chunk({"content": "A"})))
    assert not stream.must_end and stream.failure is None
    stream.on_event(SseEvent(99.0, chunk({"content": "A"})))
    assert stream.must_end and stream.end_failure()[0] == "overlong_output"  # type: ignore[index]


def test_endless_text_in_few_events_is_cut_off() -> None:
    stream = ChatStream(max_tokens=1)
    stream.on_event(SseEvent(0.0, chunk({"content": "x" * (256 + 65536)})))
    assert not stream.must_end
    stream.on_event(SseEvent(1.0, chunk({"content": "x"})))
    assert stream.must_end and stream.end_failure()[0] == "overlong_output"  # type: ignore[index]


def test_error_message_shapes() -> None:
    assert error_message({"error": {"message": "m"}}) == "m"
    assert error_message({"detail": "Not Found"}) == "Not Found"  # FastAPI's own errors
    assert error_message({"detail": [{"loc": ["body"]}]}) == '{"detail": [{"loc": ["body"]}]}'


def test_parse_completion_reads_text_finish_and_usage() -> None:
    body = json.dumps(
        {
            "choices": [{"message": {"role": "assistant", "content": "Hello"}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1},
        }
    ).encode()
    assert parse_completion(body) == ("Hello", "Hello", "length", 5, 1, None)


# --- spoken answers (--audio-output): both stream shapes -------------------------------------------


def _wav_b64(samples: int, rate_hz: int = 24_000) -> str:
    import base64
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate_hz)
        wav.writeframes(b"\0\0" * samples)
    return base64.b64encode(buffer.getvalue()).decode()


def test_vllm_omni_audio_chunks_are_audio_not_text_and_keep_the_texts_finish() -> None:
    """vLLM-Omni: chunks marked "modality": "audio" carry a whole WAV file in delta.content, finish_reason "stop"
    and zero completion tokens (vllm_omni/entrypoints/openai/serving_chat.py at 2561d0d6)."""
    audio_usage = {"prompt_tokens": 10, "completion_tokens": 0, "total_tokens": 10}
    stream = run(
        chunk({"content": "Hel"}, modality="text"),
        chunk({"content": "lo"}, "length", modality="text"),
        chunk({"role": "assistant", "content": _wav_b64(12_000)}, "stop", modality="audio", usage=audio_usage),
        chunk({"role": "assistant", "content": _wav_b64(6_000)}, "stop", modality="audio", usage=audio_usage),
        USAGE,
    )
    assert stream.output_texts == ["Hel", "lo"] and stream.finish_reason == "length"
    assert stream.audio.arrivals_s == [2.0, 3.0] and stream.audio.durations_s == [0.5, 0.25]
    assert stream.audio.seconds == 0.75 and stream.completion_tokens == 3 and stream.end_failure() is None


def test_openai_audio_deltas_carry_pcm16_and_the_transcript_is_the_text() -> None:
    import base64

    pcm = base64.b64encode(b"\1\0" * 4_800).decode()  # 0.2 s at 24 kHz
    stream = run(
        chunk({"audio": {"transcript": "Hi"}}),
        chunk({"audio": {"id": "audio-1", "data": pcm}}),
        chunk({"audio": {"transcript": " there"}}, "stop"),
        chunk({"audio": {"id": "audio-1", "data": pcm}}),
    )
    assert stream.output_texts == ["Hi", " there"] and stream.content_texts == ["Hi", " there"]
    assert stream.audio.durations_s == [0.2, 0.2] and stream.audio.samples == 9_600


@pytest.mark.parametrize(
    "audio", [{"data": "not base64!"}, {"data": "UklGRgAAAA=="}, {"data": 7}], ids=["text", "broken-wav", "number"]
)
def test_unreadable_audio_is_a_malformed_event(audio: dict[str, Any]) -> None:
    stream = run(chunk({"audio": audio}, "stop"))
    assert stream.failure is not None and stream.failure[0] == "malformed_event"


def test_an_answer_kept_for_the_report_is_one_playable_wav() -> None:
    import base64
    import io
    import wave

    from harness.load.speech import AudioChunks

    audio = AudioChunks(keep=True)
    audio.add(_wav_b64(2_400), 1.0)
    audio.add(base64.b64encode(b"\0\0" * 2_400).decode(), 1.1)
    assert AudioChunks().wav_b64() is None
    with wave.open(io.BytesIO(base64.b64decode(audio.wav_b64() or ""))) as wav:
        assert (wav.getframerate(), wav.getnframes()) == (24_000, 4_800)


def test_endless_audio_is_cut_off_as_endless_text_is() -> None:
    import base64

    stream = ChatStream(max_tokens=4)  # at most 4 x 16 + 1024 audio chunks
    pcm = base64.b64encode(b"\0\0" * 240).decode()
    for index in range(2000):
        stream.on_event(SseEvent(float(index), chunk({"audio": {"data": pcm}})))
        if stream.must_end:
            break
    assert stream.must_end and stream.failure is not None and stream.failure[0] == "overlong_output"
    assert len(stream.audio.arrivals_s) == 4 * 16 + 1024 + 1
