"""Synthetic audio clips for load traffic: a tone, noise, or speech, encoded as WAV, FLAC or MP3.

Sent as `input_audio` parts (base64 data and its format), as the OmniBench pass sends
its clips; 16 kHz mono, the rate Qwen3-Omni's audio encoder resamples to. Speech comes
from espeak-ng when it is installed (`--audio-content speech`), cut or padded with
silence to the asked duration, so the clip's token cost stays exact.
"""

from __future__ import annotations

import io
import subprocess

import numpy as np
import soundfile

from harness.audiospec import ESPEAK, SAMPLE_RATE_HZ

SOUNDFILE_FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "mp3": ("MP3", "MPEG_LAYER_III")}
TONE_HZ = (220.0, 880.0)  # a tone's pitch is drawn in this range
AMPLITUDE = 0.3
SPEECH_WORDS = (
    "load",
    "test",
    "audio",
    "token",
    "server",
    "stream",
    "model",
    "omni",
    "latency",
    "number",
    "image",
    "sound",
    "quick",
    "brown",
    "signal",
    "window",
)
ESPEAK_TIMEOUT_S = 30.0


def make_audio(seconds: float, content: str, rng: np.random.Generator) -> np.ndarray:
    """`seconds` of 16 kHz mono float32 samples in [-1, 1]."""
    frames = int(round(seconds * SAMPLE_RATE_HZ))
    if content == "tone":
        pitch_hz = float(rng.uniform(*TONE_HZ))
        return (AMPLITUDE * np.sin(2 * np.pi * pitch_hz * np.arange(frames) / SAMPLE_RATE_HZ)).astype(np.float32)
    if content == "noise":
        return rng.uniform(-AMPLITUDE, AMPLITUDE, frames).astype(np.float32)
    if content == "speech":
        return _fit(speech(" ".join(rng.choice(SPEECH_WORDS, 2 + int(seconds * 3)))), frames)
    raise ValueError(f"unknown audio content {content!r}")


def encode_audio(samples: np.ndarray, audio_format: str) -> bytes:
    """The clip as a WAV, FLAC or MP3 file's bytes (libsndfile, through soundfile)."""
    container, subtype = SOUNDFILE_FORMATS[audio_format]
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, SAMPLE_RATE_HZ, format=container, subtype=subtype)
    return buffer.getvalue()


def decoded_seconds(file_bytes: bytes) -> float:
    """The clip's length as a server's decoder reads it (MP3 frames pad it a little)."""
    info = soundfile.info(io.BytesIO(file_bytes))
    return info.frames / info.samplerate


def speech(text: str, to_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """espeak-ng's rendering of `text`, resampled to `to_rate_hz` (float32 in [-1, 1])."""
    wav = subprocess.run([ESPEAK, "--stdout", text], capture_output=True, check=True, timeout=ESPEAK_TIMEOUT_S).stdout
    samples, rate_hz = soundfile.read(io.BytesIO(wav), dtype="float32")
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    positions = np.arange(int(len(samples) * to_rate_hz / rate_hz)) * rate_hz / to_rate_hz
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


def _fit(samples: np.ndarray, frames: int) -> np.ndarray:
    """Cut or pad with silence to exactly `frames` samples."""
    if len(samples) >= frames:
        return samples[:frames]
    return np.concatenate([samples, np.zeros(frames - len(samples), dtype=np.float32)])
