"""Spoken answers (--audio-output, --voice, --audio-out-format): the flags, their checks, and what a request adds.

Two ways servers are asked for speech, chosen by the server profile:

- OpenAI's (and Alibaba Cloud's Qwen-Omni API): `"modalities": ["text", "audio"]` and
  `"audio": {"voice": ..., "format": ...}`; the answer streams `choices[].delta.audio` with
  `data` (base64 audio in the asked format; pcm16 is 24 kHz mono little-endian 16-bit) and
  `transcript` (the spoken text).
- vLLM-Omni's (`vllm serve Qwen/Qwen3-Omni-30B-A3B-Instruct --omni`), read in
  vllm-project/vllm-omni at 2561d0d6 (vllm_omni/entrypoints/openai/protocol/chat_completion.py:
  OmniChatCompletionRequest has `modalities` and no `audio` object; serving_chat.py:
  `output_modalities = getattr(request, "modalities", ...)`): `"modalities": ["text", "audio"]`
  alone. Its stream marks each chunk with `"modality": "text" | "audio"`; an audio chunk carries
  the newest piece of speech as a whole base64 WAV file (CreateAudio at sample_rate 24000,
  response_format "wav") in `delta.content`, with `finish_reason: "stop"` and zero completion
  tokens in its usage (serving_chat.py, _create_audio_choice with stream=True). It takes no
  voice or format: --voice and --audio-out-format do not reach it.

The reader (harness/load/stream.py) reads both shapes whichever was asked.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.argparsing import BadOption, refuse_given

AUDIO_OUT_FORMATS = ("pcm16", "wav")
DEFAULT_VOICE = "Ethan"  # one of Qwen3-Omni's voices (Ethan, Chelsie, Aiden)
MAX_VOICE_CHARS = 64
OUTPUT_SAMPLE_RATE_HZ = 24_000  # OpenAI's pcm16 and vLLM-Omni's WAV chunks
MODALITIES = ["text", "audio"]


@dataclass(frozen=True)
class SpeechSpec:
    """Whether requests ask for a spoken answer, and in which voice and format."""

    enabled: bool = False
    voice: str = DEFAULT_VOICE
    audio_format: str = "pcm16"

    def body_fields(self, server_profile: str) -> dict[str, Any]:
        """What a request asking for speech adds to the body under this server profile (none when off)."""
        if not self.enabled:
            return {}
        if server_profile == "openai":
            return {"modalities": list(MODALITIES), "audio": {"voice": self.voice, "format": self.audio_format}}
        return {"modalities": list(MODALITIES)}  # vLLM-Omni reads modalities only


def add_speech_arguments(add: Callable[..., Any]) -> None:
    add(
        "--audio-output",
        action="store_true",
        default=False,
        help='Ask for a spoken answer beside the text ("modalities": ["text", "audio"]; OpenAI servers also get '
        '"audio": {voice, format}) and measure it: time to first audio, audio seconds, real-time factor, underruns',
    )
    add("--voice", default=DEFAULT_VOICE, help="--audio-output: the voice asked for (OpenAI-style servers)")
    add(
        "--audio-out-format",
        default="pcm16",
        choices=AUDIO_OUT_FORMATS,
        help="--audio-output: the audio format asked for (OpenAI-style servers; vLLM-Omni always sends WAV)",
    )


def speech_spec(parsed: argparse.Namespace) -> SpeechSpec:
    """--audio-output and its options checked (BadOption naming the flag)."""
    if not parsed.audio_output:
        refuse_given(
            (("--voice", parsed.voice != DEFAULT_VOICE), ("--audio-out-format", parsed.audio_out_format != "pcm16")),
            "has no effect without --audio-output",
        )
        return SpeechSpec()
    if not parsed.stream:
        raise BadOption("--audio-output", "measures a streamed answer: it is not combined with --no-stream")
    voice = parsed.voice
    if not voice or len(voice) > MAX_VOICE_CHARS or not voice.replace("-", "").replace("_", "").isalnum():
        raise BadOption("--voice", f"{voice[:MAX_VOICE_CHARS]!r}: letters, digits, - and _ (up to {MAX_VOICE_CHARS})")
    return SpeechSpec(True, voice, parsed.audio_out_format)
