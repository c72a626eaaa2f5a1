"""Synthetic video clips for load traffic: moving shapes or noise, optionally with a sound track.

Encoded with PyAV (H.264 in MP4, AAC audio) in memory: no ffmpeg binary. Every clip is drawn
from its own random numbers, so no two requests send the same video and a server's multimodal
cache cannot serve one. Shapes compress as real footage does; noise is the worst case for the
encoder, the bytes on the wire and the server's decoder.
"""

from __future__ import annotations

import io
from fractions import Fraction
from typing import TYPE_CHECKING, cast

import numpy as np

from harness.audiospec import SAMPLE_RATE_HZ
from harness.load.audio import make_audio

if TYPE_CHECKING:
    import av

VIDEO_CODEC = "libx264"
AUDIO_CODEC = "aac"
X264_OPTIONS = {"preset": "ultrafast", "crf": "30"}
SHAPES = 3  # moving rectangles per clip


def make_video(
    width_px: int,
    height_px: int,
    seconds: float,
    fps: float,
    content: str,
    rng: np.random.Generator,
    track: np.ndarray | None = None,
) -> bytes:
    """An MP4 file's bytes: `seconds`·`fps` frames (at least one) of `content`; with `track` (16 kHz mono
    samples: sound_track() makes them) a mono AAC sound track. Safe in a native thread (no subprocess)."""
    import av

    frames = max(1, round(seconds * fps))
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        video = cast("av.VideoStream", container.add_stream(VIDEO_CODEC, rate=Fraction(fps).limit_denominator(1000)))
        video.width, video.height, video.pix_fmt = width_px, height_px, "yuv420p"
        video.options = dict(X264_OPTIONS)
        audio = None
        if track is not None:
            audio = cast("av.AudioStream", container.add_stream(AUDIO_CODEC, rate=SAMPLE_RATE_HZ, layout="mono"))
        for index, picture in enumerate(_pictures(width_px, height_px, frames, content, rng)):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None and track is not None:
            sound = av.AudioFrame.from_ndarray(track.reshape(1, -1), format="flt", layout="mono")
            sound.sample_rate = SAMPLE_RATE_HZ
            sound.pts = 0
            container.mux(audio.encode(sound))
            container.mux(audio.encode(None))
    return buffer.getvalue()


def sound_track(seconds: float, fps: float, content: str, rng: np.random.Generator) -> np.ndarray:
    """A clip's sound track (tone, noise or speech, as --audio-content) as long as its frames last. Speech runs
    espeak-ng: call it where a subprocess may start (a greenlet or a plain thread, not gevent's thread pool)."""
    return make_audio(max(1, round(seconds * fps)) / fps, content, rng)


def _pictures(width_px: int, height_px: int, frames: int, content: str, rng: np.random.Generator) -> list[np.ndarray]:
    if content == "noise":
        return [rng.integers(0, 256, (height_px, width_px, 3), dtype=np.uint8) for _ in range(frames)]
    if content != "shapes":
        raise ValueError(f"unknown video content {content!r}")
    background = rng.integers(0, 256, 3, dtype=np.uint8)
    sizes = rng.integers(max(2, min(width_px, height_px) // 8), max(3, min(width_px, height_px) // 3), (SHAPES, 2))
    starts = rng.uniform(0, 1, (SHAPES, 2))
    speeds = rng.uniform(-0.3, 0.3, (SHAPES, 2))  # of the frame per second of frames
    colours = rng.integers(0, 256, (SHAPES, 3), dtype=np.uint8)
    pictures = []
    for index in range(frames):
        picture = np.empty((height_px, width_px, 3), dtype=np.uint8)
        picture[:] = background
        for shape in range(SHAPES):
            x_frac, y_frac = (starts[shape] + speeds[shape] * index / max(frames, 1)) % 1.0
            left, top = int(x_frac * width_px), int(y_frac * height_px)
            picture[top : top + sizes[shape][1], left : left + sizes[shape][0]] = colours[shape]
        pictures.append(picture)
    return pictures
