import json

from harness.sim.framing import DONE_EVENT, StreamFramer


def _data(event: bytes) -> dict:
    assert event.startswith(b"data: ") and event.endswith(b"\n\n")
    return json.loads(event[6:-2])


def test_events_match_vllm_shapes() -> None:
    framer = StreamFramer("chatcmpl-1", "M", created_s=5)
    role = _data(framer.role_event())
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert role["object"] == "chat.completion.chunk" and role["created"] == 5 and role["model"] == "M"
    last = _data(framer.delta_event(" end", "length"))
    assert last["choices"][0]["finish_reason"] == "length" and last["choices"][0]["delta"] == {"content": " end"}
    reasoning = _data(framer.delta_event(" hmm", None, reasoning=True))
    assert reasoning["choices"][0]["delta"] == {"reasoning_content": " hmm"}
    usage = _data(framer.usage_event(10, 4))
    assert usage["choices"] == [] and usage["usage"] == {
        "prompt_tokens": 10,
        "total_tokens": 14,
        "completion_tokens": 4,
    }
    assert DONE_EVENT == b"data: [DONE]\n\n"


def test_malformed_event_is_not_json() -> None:
    event = StreamFramer("c", "M").malformed_event()
    try:
        json.loads(event[6:-2])
    except ValueError:
        return
    raise AssertionError("malformed event parsed as JSON")
