"""A spoken answer's audio chunks as they arrive: each one's arrival, bytes and seconds.

Called once per audio event while the stream is open, so the work is small: raw PCM16 (OpenAI's
pcm16, 24 kHz mono) is measured from its base64 length without decoding it; a WAV chunk
(vLLM-Omni sends each piece as a whole WAV file) is decoded and its header read by the standard
library's `wave` (C base64, a header of 44 bytes). Only the answers kept for the report (a few
per stage) keep their samples, joined into one WAV once the stream has ended.
"""

from __future__ import annotations

import base64
import binascii
import io
import wave

from harness.speechspec import OUTPUT_SAMPLE_RATE_HZ

WAV_B64_PREFIX = "UklGR"  # base64 of b"RIFF"
PCM16_BYTES_PER_SAMPLE = 2
MAX_KEPT_AUDIO_S = 30.0  # a kept answer is cut here (the report's players)


class AudioChunkError(ValueError):
    """An audio chunk that cannot be read (bad base64, a broken WAV header)."""


class AudioChunks:
    """The audio of one streamed answer."""

    def __init__(self, keep: bool = False) -> None:
        """keep: hold the samples for the report (a few answers per stage)."""
        self.arrivals_s: list[float] = []  # each chunk's arrival (unix s, kernel stamp)
        self.durations_s: list[float] = []
        self.bytes = 0
        self.samples = 0  # in all: the answer's seconds are samples / sample_rate_hz, exactly
        self.keep = keep
        self._kept: list[bytes] = []  # PCM16 at OUTPUT_SAMPLE_RATE_HZ, mono
        self._kept_s = 0.0
        self.sample_rate_hz = OUTPUT_SAMPLE_RATE_HZ

    def add(self, data_b64: str, arrived_s: float) -> None:
        """One chunk's base64 data; raises AudioChunkError for one that cannot be read."""
        if not isinstance(data_b64, str):
            raise AudioChunkError(f"audio data is a {type(data_b64).__name__}, not base64 text")
        keeping = self.keep and self._kept_s < MAX_KEPT_AUDIO_S
        if data_b64.startswith(WAV_B64_PREFIX):
            pcm, seconds, size = self._wav(data_b64, keeping)
        else:
            size = _b64_size(data_b64)
            self.samples += size // PCM16_BYTES_PER_SAMPLE
            seconds = size / PCM16_BYTES_PER_SAMPLE / OUTPUT_SAMPLE_RATE_HZ
            pcm = _decode(data_b64) if keeping else b""
        self.arrivals_s.append(arrived_s)
        self.durations_s.append(seconds)
        self.bytes += size
        if pcm:
            self._kept.append(pcm)
            self._kept_s += seconds

    def _wav(self, data_b64: str, keeping: bool) -> tuple[bytes, float, int]:
        """(its PCM frames when keeping, its seconds, its bytes) of a whole WAV file."""
        data = _decode(data_b64)
        try:
            with wave.open(io.BytesIO(data)) as wav:
                frames, rate_hz = wav.getnframes(), wav.getframerate()
                if wav.getsampwidth() != PCM16_BYTES_PER_SAMPLE or wav.getnchannels() != 1 or rate_hz <= 0:
                    raise AudioChunkError(
                        f"a WAV chunk of {wav.getnchannels()} channels, {8 * wav.getsampwidth()} bits at "
                        f"{rate_hz} Hz (16-bit mono expected)"
                    )
                self.sample_rate_hz = rate_hz
                self.samples += frames
                pcm = wav.readframes(frames) if keeping else b""
        except (wave.Error, EOFError) as exc:
            raise AudioChunkError(f"a WAV chunk that cannot be read: {exc}") from None
        return pcm, frames / rate_hz, len(data)

    @property
    def seconds(self) -> float:
        """The answer's audio in seconds (from its samples, not a sum of per-chunk floats)."""
        return self.samples / self.sample_rate_hz

    def wav_b64(self) -> str | None:
        """The kept answer as one base64 WAV file (None when nothing was kept)."""
        if not self._kept:
            return None
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(PCM16_BYTES_PER_SAMPLE)
            wav.setframerate(self.sample_rate_hz)
            wav.writeframes(b"".join(self._kept))
        return base64.b64encode(buffer.getvalue()).decode("ascii")


def _decode(data_b64: str) -> bytes:
    try:
        return base64.b64decode(data_b64, validate=True)
    except (binascii.Error, ValueError):
        raise AudioChunkError("audio data that is not base64") from None


def _b64_size(data_b64: str) -> int:
    """Decoded bytes of base64 text, from its length (checked only for a plausible length)."""
    if len(data_b64) % 4:
        raise AudioChunkError(f"audio data of {len(data_b64)} base64 characters (a multiple of 4 expected)")
    return len(data_b64) * 3 // 4 - data_b64[-2:].count("=")
