"""Synthetic media for tests: PNG/JPEG images and WAV/MP3 audio as data URLs."""

from __future__ import annotations

import base64
import io

import numpy as np
import soundfile
from PIL import Image


def image_data_url(width_px: int, height_px: int, mode: str = "RGB", fmt: str = "PNG") -> str:
    image = Image.new(mode, (width_px, height_px), color=0)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    mime = "image/png" if fmt == "PNG" else "image/jpeg"
    return f"data:{mime};base64," + base64.b64encode(buffer.getvalue()).decode()


def audio_base64(duration_s: float, fmt: str = "WAV", sample_rate_hz: int = 16_000) -> str:
    samples = np.sin(np.linspace(0, 440 * 2 * np.pi * duration_s, int(duration_s * sample_rate_hz)))
    buffer = io.BytesIO()
    soundfile.write(buffer, samples.astype(np.float32), sample_rate_hz, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode()
