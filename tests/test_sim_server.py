"""The simulator seen from clients: the openai package, raw HTTP streaming, /metrics, ground truth."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.devtools.simprocess import SimProcess, start_sim
from harness.media_tokens import audio_tokens, image_tokens

from common import MODEL
from media import audio_base64, image_data_url

HELLO = [{"role": "user", "content": "Hello world"}]
HELLO_TEXT_TOKENS = 10  # "<|im_start|>user\nHello world<|im_end|>\n<|im_start|>assistant\n"


def _client(sim: SimProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.base_url + "/v1", api_key="unused", max_retries=0)


def _record(sim: SimProcess, request_id: str) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        matches = [r for r in sim.ground_truth_records() if r["request_id"] == request_id]
        if matches:
            return matches[0]
        time.sleep(0.02)
    raise AssertionError(f"no ground truth for {request_id}")


def _sse_events(sim: SimProcess, body: dict, headers: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Raw `data:` payloads of a streamed request (status, events); stops at a broken stream."""
    events: list[str] = []
    with httpx.Client(timeout=30) as client:
        with client.stream("POST", sim.base_url + "/v1/chat/completions", json=body, headers=headers) as response:
            try:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        events.append(line[6:])
            except httpx.RemoteProtocolError:
                events.append("<broken>")
            return response.status_code, events


def _stream_body(max_tokens: int = 8, **extra: object) -> dict:
    return {
        "model": MODEL,
        "messages": HELLO,
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        **extra,
    }


def test_openai_client_streams(fixed_sim: SimProcess) -> None:
    stream = _client(fixed_sim).chat.completions.create(
        model=MODEL,
        messages=HELLO,
        max_tokens=12,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"X-Request-Id": "stream-1"},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[0].choices[0].delta.content == ""
    contents = [c.choices[0].delta.content for c in chunks[1:] if c.choices]
    assert len(contents) == 12 and all(contents)
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 12
    assert chunks[-1].usage.prompt_tokens == HELLO_TEXT_TOKENS
    record = _record(fixed_sim, "stream-1")
    assert record["completion_tokens"] == 12 and record["events"] == 12 and record["finish_reason"] == "length"
    assert record["text_tokens"] == HELLO_TEXT_TOKENS and record["image_tokens"] == 0
    # --fixed 30 5: first token 30 ms after arrival, the 12th 11 × 5 ms later
    assert 0.030 <= record["first_token_at"] - record["received_at"] < 0.040
    assert 0.085 <= record["last_token_at"] - record["received_at"] < 0.095


def test_openai_client_non_stream_and_determinism(fixed_sim: SimProcess) -> None:
    client = _client(fixed_sim)
    first = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=6, seed=7)
    second = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=6, seed=7)
    assert first.usage.completion_tokens == 6 and first.choices[0].finish_reason == "length"
    assert first.choices[0].message.content == second.choices[0].message.content
    assert len(first.choices[0].message.content.split()) == 6


def test_min_tokens_with_ignore_eos_gives_exact_length(fixed_sim: SimProcess) -> None:
    response = _client(fixed_sim).chat.completions.create(
        model=MODEL, messages=HELLO, max_tokens=64, extra_body={"min_tokens": 64, "ignore_eos": True}
    )
    assert response.usage.completion_tokens == 64


def test_without_ignore_eos_the_answer_ends_naturally(tmp_path) -> None:
    sim = start_sim(["--fixed", "1", "1", "--natural-output-tokens", "5"])
    try:
        client = _client(sim)
        natural = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=50)
        assert natural.usage.completion_tokens == 5 and natural.choices[0].finish_reason == "stop"
        floored = client.chat.completions.create(
            model=MODEL, messages=HELLO, max_tokens=50, extra_body={"min_tokens": 20}
        )
        assert floored.usage.completion_tokens == 20
    finally:
        sim.stop()


def test_usage_counts_image_and_audio_tokens(fixed_sim: SimProcess) -> None:
    content = [
        {"type": "text", "text": "Hello world"},
        {"type": "image_url", "image_url": {"url": image_data_url(512, 512)}},
        {"type": "image_url", "image_url": {"url": image_data_url(640, 480, mode="L", fmt="JPEG")}},
        {"type": "input_audio", "input_audio": {"data": audio_base64(2.0, "WAV"), "format": "wav"}},
        {"type": "audio_url", "audio_url": {"url": "data:audio/mpeg;base64," + audio_base64(1.0, "MP3")}},
    ]
    response = _client(fixed_sim).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": content}],
        max_tokens=2,
        extra_headers={"X-Request-Id": "media-1"},
    )
    expected_media = 258 + image_tokens(640, 480) + 28 + 15
    assert image_tokens(640, 480) == 20 * 15 + 2
    assert response.usage.prompt_tokens == HELLO_TEXT_TOKENS + expected_media
    record = _record(fixed_sim, "media-1")
    assert record["image_tokens"] == 258 + 302
    assert record["audio_tokens"] == audio_tokens(2.0) + audio_tokens(1.0) == 43
    assert record["prompt_tokens"] == record["text_tokens"] + record["image_tokens"] + record["audio_tokens"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 400, "JSON"),
        (json.dumps({"model": "other", "messages": HELLO}).encode(), 404, "The model `other` does not exist."),
        (json.dumps({"model": MODEL, "messages": []}).encode(), 400, "messages"),
        (json.dumps({"model": MODEL, "messages": HELLO, "max_tokens": 40000}).encode(), 400, "maximum context"),
        (json.dumps({"model": MODEL, "messages": HELLO, "max_tokens": 4, "min_tokens": 5}).encode(), 400, "min_tokens"),
        (
            json.dumps(
                {
                    "model": MODEL,
                    "messages": [
                        {
                            "role": "user",
                            "content": [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}],
                        }
                    ],
                }
            ).encode(),
            400,
            "remote",
        ),
    ],
)
def test_bad_requests_get_vllm_error_bodies(fixed_sim: SimProcess, body: bytes, status: int, fragment: str) -> None:
    response = httpx.post(fixed_sim.base_url + "/v1/chat/completions", content=body, timeout=10)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == status and fragment in error["message"]
    assert error["type"] in ("BadRequestError", "NotFoundError")


def test_openai_client_raises_not_found_for_wrong_model(fixed_sim: SimProcess) -> None:
    with pytest.raises(openai.NotFoundError):
        _client(fixed_sim).chat.completions.create(model="nope", messages=HELLO, max_tokens=2)


def test_oversized_body_and_unknown_route(tmp_path) -> None:
    sim = start_sim(["--fixed", "1", "1", "--max-body-mb", "0.01"])
    try:
        big = {"model": MODEL, "messages": [{"role": "user", "content": "x" * 20_000}]}
        response = httpx.post(sim.base_url + "/v1/chat/completions", json=big, timeout=10)
        assert response.status_code == 413 and response.json()["error"]["code"] == 413
        assert httpx.get(sim.base_url + "/v2/nothing", timeout=10).json() == {"detail": "Not Found"}
        assert httpx.get(sim.base_url + "/health", timeout=10).status_code == 200
    finally:
        sim.stop()


def test_models_and_tokenize(fixed_sim: SimProcess) -> None:
    models = httpx.get(fixed_sim.base_url + "/v1/models", timeout=10).json()
    assert [m["id"] for m in models["data"]] == [MODEL]
    tokenized = httpx.post(fixed_sim.base_url + "/tokenize", json={"prompt": "Hello world"}, timeout=10).json()
    assert tokenized["tokens"] == [9707, 1879] and tokenized["count"] == 2
    assert tokenized["max_model_len"] == 32768
    chat = httpx.post(fixed_sim.base_url + "/tokenize", json={"messages": HELLO}, timeout=10).json()
    assert chat["count"] == HELLO_TEXT_TOKENS


def test_metrics_parse_with_vllm_names(fixed_sim: SimProcess) -> None:
    _client(fixed_sim).chat.completions.create(model=MODEL, messages=HELLO, max_tokens=3)
    text = httpx.get(fixed_sim.base_url + "/metrics", timeout=10).text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    expected_types = {
        "vllm:time_to_first_token_seconds": "histogram",
        "vllm:inter_token_latency_seconds": "histogram",
        "vllm:request_time_per_output_token_seconds": "histogram",
        "vllm:e2e_request_latency_seconds": "histogram",
        "vllm:request_queue_time_seconds": "histogram",
        "vllm:num_requests_running": "gauge",
        "vllm:num_requests_waiting": "gauge",
        "vllm:kv_cache_usage_perc": "gauge",
        "vllm:prompt_tokens": "counter",
        "vllm:generation_tokens": "counter",
        "vllm:request_success": "counter",
    }
    for name, metric_type in expected_types.items():
        assert families[name].type == metric_type, name
    ttft_buckets = [
        s.labels["le"] for s in families["vllm:time_to_first_token_seconds"].samples if s.name.endswith("_bucket")
    ]
    assert ttft_buckets[:3] == ["0.001", "0.005", "0.01"] and ttft_buckets[-1] == "+Inf"
    success = {
        s.labels["finished_reason"]: s.value
        for s in families["vllm:request_success"].samples
        if s.name.endswith("_total")
    }
    assert success["length"] >= 1
    for sample in families["vllm:generation_tokens"].samples:
        assert sample.labels == {"model_name": MODEL, "engine": "0"}
        assert sample.value >= 3


# --- faults, observed from a raw client ------------------------------------------------


def test_http_fault_statuses(fixed_sim: SimProcess) -> None:
    for spec, status in (("http_500", 500), ("http_503", 503), ("http_429:3", 429)):
        response = httpx.post(
            fixed_sim.base_url + "/v1/chat/completions", json=_stream_body(), headers={"X-Sim-Fault": spec}, timeout=10
        )
        assert response.status_code == status and response.json()["error"]["code"] == status
        if status == 429:
            assert response.headers["Retry-After"] == "3"


def test_delay_before_headers(fixed_sim: SimProcess) -> None:
    started = time.perf_counter()
    status, events = _sse_events(fixed_sim, _stream_body(max_tokens=2), {"X-Sim-Fault": "delay:0.3"})
    assert status == 200 and events[-1] == "[DONE]"
    assert time.perf_counter() - started >= 0.3


def test_stall_mid_stream(fixed_sim: SimProcess) -> None:
    body = _stream_body(max_tokens=6)
    with httpx.Client(timeout=30) as client:
        with client.stream(
            "POST", fixed_sim.base_url + "/v1/chat/completions", json=body, headers={"X-Sim-Fault": "stall:0.4@3"}
        ) as response:
            arrivals = [time.perf_counter() for line in response.iter_lines() if line.startswith("data: {")]
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    # role, tokens 1-3, (stall), tokens 4-6, usage: the gap after the 3rd token is the stall
    assert gaps[3] >= 0.4 and max(gaps[:3] + gaps[4:]) < 0.2


def test_disconnect_after_k_tokens(fixed_sim: SimProcess) -> None:
    status, events = _sse_events(fixed_sim, _stream_body(max_tokens=8), {"X-Sim-Fault": "disconnect@3"})
    assert status == 200
    contents = [e for e in events if e.startswith("{") and '"content":" ' in e]
    assert len(contents) == 3 and "[DONE]" not in events


def test_malformed_event(fixed_sim: SimProcess) -> None:
    _status, events = _sse_events(fixed_sim, _stream_body(max_tokens=4), {"X-Sim-Fault": "malformed@2"})
    bad = []
    for event in events:
        if event == "[DONE]":
            continue
        try:
            json.loads(event)
        except ValueError:
            bad.append(event)
    assert len(bad) == 1 and events[-1] == "[DONE]"


def test_error_event_after_200(fixed_sim: SimProcess) -> None:
    status, events = _sse_events(fixed_sim, _stream_body(max_tokens=6), {"X-Sim-Fault": "error_event@2"})
    assert status == 200
    error = json.loads(events[-2])
    assert error["error"]["code"] == 500 and events[-1] == "[DONE]"
    assert not any('"finish_reason":"length"' in e for e in events)


def test_stream_without_done(fixed_sim: SimProcess) -> None:
    _status, events = _sse_events(fixed_sim, _stream_body(max_tokens=3), {"X-Sim-Fault": "no_done"})
    assert "[DONE]" not in events and json.loads(events[-1])["usage"]["completion_tokens"] == 3


def test_short_output_ignores_min_tokens(fixed_sim: SimProcess) -> None:
    body = _stream_body(max_tokens=10, min_tokens=10, ignore_eos=True)
    _status, events = _sse_events(fixed_sim, body, {"X-Sim-Fault": "short@4"})
    usage = json.loads(events[-2])["usage"]
    assert usage["completion_tokens"] == 4
    assert '"finish_reason":"stop"' in events[-3]


def test_bad_fault_header_is_a_400(fixed_sim: SimProcess) -> None:
    response = httpx.post(
        fixed_sim.base_url + "/v1/chat/completions", json=_stream_body(), headers={"X-Sim-Fault": "explode"}, timeout=10
    )
    assert response.status_code == 400 and "X-Sim-Fault" in response.json()["error"]["message"]


def test_fault_rate_from_command_line(tmp_path) -> None:
    ground_truth = tmp_path / "gt.jsonl"
    sim = start_sim(["--fixed", "1", "1", "--fault-rate", "1.0", "--faults", "http_503"], str(ground_truth))
    try:
        response = httpx.post(sim.base_url + "/v1/chat/completions", json=_stream_body(), timeout=10)
        assert response.status_code == 503
        (record,) = sim.wait_records(1)
        assert record["fault"] == "http_503" and record["status"] == 503
    finally:
        sim.stop()


# --- stream shape options -----------------------------------------------------------------


def test_stream_interval_and_reasoning(tmp_path) -> None:
    ground_truth = tmp_path / "gt.jsonl"
    sim = start_sim(["--fixed", "1", "1", "--stream-interval", "4", "--reasoning-tokens", "3"], str(ground_truth))
    try:
        _status, events = _sse_events(sim, _stream_body(max_tokens=10), {"X-Request-Id": "interval-1"})
        deltas = [json.loads(e)["choices"][0]["delta"] for e in events[1:-2]]
        reasoning = [d["reasoning_content"] for d in deltas if "reasoning_content" in d]
        content = [d["content"] for d in deltas if "content" in d]
        # 3 reasoning tokens in one event, then 7 content tokens as 4 + 3
        assert [len(r.split()) for r in reasoning] == [3]
        assert [len(c.split()) for c in content] == [4, 3]
        (record,) = sim.wait_records(1)
        assert record["events"] == 3 and record["completion_tokens"] == 10
    finally:
        sim.stop()


def test_batching_queues_beyond_max_num_seqs(tmp_path) -> None:
    """Two slots, four concurrent requests: two wait, and the waiting ones start later."""
    import concurrent.futures

    ground_truth = tmp_path / "gt.jsonl"
    sim = start_sim(["--max-num-seqs", "2", "--decode-ms", "5", "--decode-ms-per-seq", "0"], str(ground_truth))
    try:
        client = _client(sim)

        def one(i: int) -> int:
            stream = client.chat.completions.create(
                model=MODEL,
                messages=HELLO,
                max_tokens=20,
                stream=True,
                stream_options={"include_usage": True},
                extra_headers={"X-Request-Id": f"b{i}"},
            )
            return list(stream)[-1].usage.completion_tokens

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            assert list(pool.map(one, range(4))) == [20] * 4
        records = sorted(sim.wait_records(4), key=lambda r: r["first_token_at"])
        ttfts = [r["first_token_at"] - r["received_at"] for r in records]
        # the two admitted late waited ~20 decode steps of 5 ms for a slot
        assert max(ttfts[:2]) < 0.05 and min(ttfts[2:]) > 0.08
        text = httpx.get(sim.base_url + "/metrics", timeout=10).text
        queue = {
            s.name: s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if f.name == "vllm:request_queue_time_seconds"
        }
        assert queue["vllm:request_queue_time_seconds_count"] == 4
        assert queue["vllm:request_queue_time_seconds_sum"] > 0.15
    finally:
        sim.stop()
