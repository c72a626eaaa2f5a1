"""What a spoken answer's audio chunk costs the load process, beside a text event, in one run.

Each event goes through ChatStream.on_event as it does while the stream is open: a text delta, an
OpenAI pcm16 audio delta (measured from its base64 length, not decoded) and a vLLM-Omni audio chunk
(a whole base64 WAV file, decoded for its header). Chunks of 0.4 s of 24 kHz audio, the simulator's
default. Target: an audio chunk under 100 µs (0.4 s of speech; at 50 streams, 125 chunks a second:
about 1 % of a core).

    .venv/bin/python bench/speech_events.py
"""

from __future__ import annotations

import base64
import io
import json
import time
import wave

from harness.load.sse import SseEvent
from harness.load.stream import ChatStream

CHUNK_SAMPLES = 9_600  # 0.4 s at 24 kHz
EVENTS = 5_000
TARGET_US = 100.0


def _events() -> dict[str, bytes]:
    pcm = b"\x01\x00" * CHUNK_SAMPLES
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24_000)
        wav.writeframes(pcm)
    openai = {"choices": [{"index": 0, "delta": {"audio": {"id": "a", "data": base64.b64encode(pcm).decode()}}}]}
    omni = {
        "choices": [{"index": 0, "delta": {"content": base64.b64encode(buffer.getvalue()).decode()}}],
        "modality": "audio",
    }
    text = {"choices": [{"index": 0, "delta": {"content": " hello"}, "finish_reason": None}]}
    return {name: json.dumps(body).encode() for name, body in (("text", text), ("pcm16", openai), ("wav", omni))}


def main() -> None:
    costs_us = {}
    for name, data in _events().items():
        stream = ChatStream()
        started = time.process_time()
        for _ in range(EVENTS):
            stream.on_event(SseEvent(0.0, data))
        costs_us[name] = (time.process_time() - started) / EVENTS * 1e6
        print(f"{name:>6}: {costs_us[name]:6.1f} µs CPU per event ({len(data) / 1024:.1f} KB)")
    worst = max(costs_us["pcm16"], costs_us["wav"])
    print(
        f"audio chunk / text event: pcm16 {costs_us['pcm16'] / costs_us['text']:.1f}x, "
        f"wav {costs_us['wav'] / costs_us['text']:.1f}x; worst {worst:.1f} µs (target < {TARGET_US:.0f} µs): "
        + ("met" if worst < TARGET_US else "NOT met")
    )


if __name__ == "__main__":
    main()
