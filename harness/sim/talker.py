"""The simulator's talker (--talker): a spoken answer streamed beside the text, with every chunk known.

Qwen3-Omni answers in speech through its talker and code2wav stages after the thinker's text
has begun. Here: the first audio chunk comes --talker-ttfa-ms after the first text token; each
chunk holds --talker-chunk-ms of audio (the last one the rest) and takes chunk × RTF to make,
where RTF is --talker-rtf plus --talker-rtf-per-seq for every other answer being spoken (so
speech slows with load as decoding does); an answer holds --talker-seconds-per-token of audio
per output token. The voice is one espeak-ng phrase (a tone without espeak-ng) rendered at
24 kHz at start and looped, so that the report's players play speech.

Two stream shapes, as the request asks:
- vLLM-Omni's (vllm-project/vllm-omni 2561d0d6, vllm_omni/entrypoints/openai/serving_chat.py):
  a request with `"modalities"` holding "audio" and no `audio` object gets chunks marked
  `"modality": "audio"`, whose `delta.content` is the newest piece as a whole base64 WAV file at
  24 kHz (its CreateAudio(sample_rate=24000, response_format="wav")), with
  `finish_reason: "stop"` and usage counting zero completion tokens; text chunks are marked
  `"modality": "text"`.
- OpenAI's: a request with an `"audio": {"voice", "format"}` object gets `delta.audio` with an
  `id` and `data` (base64 raw pcm16 at 24 kHz, or a WAV file per chunk when "wav" was asked),
  and the text as `delta.audio.transcript` instead of `delta.content`.

Faults (X-Sim-Fault or --faults): talker_stall:SECONDS@K pauses SECONDS before audio chunk K
(1-based); audio_cut@K drops the connection after K audio chunks.
"""

from __future__ import annotations

import base64
import io
import json
import uuid
import wave
from dataclasses import dataclass

import numpy as np

from harness.audiospec import speech_available

SAMPLE_RATE_HZ = 24_000
VOICE_TEXT = "This is the omniload simulator speaking. Every figure you see here was known in advance."
TONE_HZ = 220.0


@dataclass(frozen=True)
class TalkerConfig:
    """--talker's settings; `enabled` False: no speech (requests asking for audio get text alone)."""

    enabled: bool = False
    ttfa_ms: float = 150.0  # after the first text token
    chunk_ms: float = 400.0
    rtf: float = 0.5  # seconds to make a second of audio, one answer spoken at a time
    rtf_per_seq: float = 0.02  # added per other answer being spoken
    seconds_per_token: float = 0.2  # audio per output token


@dataclass(frozen=True)
class SpeechRequest:
    """What a request asked of the talker."""

    shape: str  # "vllm-omni" or "openai"
    wav_chunks: bool  # each chunk a whole WAV file (vLLM-Omni always; OpenAI when "wav" was asked)


def speech_request(payload: dict[str, object]) -> SpeechRequest | None:
    """Whether (and how) a request body asks for audio; None: text only."""
    modalities = payload.get("modalities")
    if not isinstance(modalities, list) or "audio" not in modalities:
        return None
    audio = payload.get("audio")
    if isinstance(audio, dict):
        return SpeechRequest("openai", audio.get("format") == "wav")
    return SpeechRequest("vllm-omni", True)


def chunk_samples(output_tokens: int, config: TalkerConfig) -> list[int]:
    """Each chunk's samples: the answer's audio in chunks of chunk_ms, the last the rest."""
    total = round(output_tokens * config.seconds_per_token * SAMPLE_RATE_HZ)
    size = max(1, round(config.chunk_ms / 1000 * SAMPLE_RATE_HZ))
    return [min(size, total - start) for start in range(0, total, size)]


class Voice:
    """The looped voice, as 16-bit samples at 24 kHz."""

    def __init__(self) -> None:
        self.samples = _render_voice()
        self._position = 0

    def next_pcm(self, samples: int) -> bytes:
        """The next `samples` of the loop as PCM16 bytes."""
        loop = self.samples
        indexes = (self._position + np.arange(samples)) % len(loop)
        self._position = int((self._position + samples) % len(loop))
        return loop[indexes].astype("<i2").tobytes()


def wav_bytes(pcm: bytes) -> bytes:
    """PCM16 mono at 24 kHz as a WAV file (as vLLM-Omni's CreateAudio writes one per chunk)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE_HZ)
        wav.writeframes(pcm)
    return buffer.getvalue()


class AudioFramer:
    """The audio events of one answer, in the shape its request asked for."""

    def __init__(self, head: bytes, request: SpeechRequest, prompt_tokens: int) -> None:
        self.head = head  # b'data: {"id":...,"object":...,"created":...,"model":...,"choices":'
        self.request = request
        self.prompt_tokens = prompt_tokens
        self.audio_id = f"audio-{uuid.uuid4().hex[:16]}"

    def event(self, pcm: bytes) -> bytes:
        data = base64.b64encode(wav_bytes(pcm) if self.request.wav_chunks else pcm).decode("ascii")
        if self.request.shape == "openai":
            delta = {"audio": {"id": self.audio_id, "data": data}}
            return self.head + _compact([{"index": 0, "delta": delta, "finish_reason": None}]) + b"}\n\n"
        choice = {
            "index": 0,
            "delta": {"role": "assistant", "content": data},
            "logprobs": None,
            "finish_reason": "stop",
            "stop_reason": None,
        }
        usage = {"prompt_tokens": self.prompt_tokens, "total_tokens": self.prompt_tokens, "completion_tokens": 0}
        return self.head + _compact([choice]) + b',"modality":"audio","usage":' + _compact(usage) + b"}\n\n"


def _compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _render_voice() -> np.ndarray:
    """espeak-ng saying VOICE_TEXT at 24 kHz as int16; a quiet tone when espeak-ng is missing."""
    if speech_available():
        from harness.load.audio import speech  # espeak-ng and soundfile: only when the talker speaks

        samples = np.concatenate([speech(VOICE_TEXT, SAMPLE_RATE_HZ), np.zeros(SAMPLE_RATE_HZ // 2)])  # a pause
    else:
        samples = 0.2 * np.sin(2 * np.pi * TONE_HZ * np.arange(SAMPLE_RATE_HZ) / SAMPLE_RATE_HZ)
    return np.round(np.clip(samples, -1, 1) * 32767).astype(np.int16)
