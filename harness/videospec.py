"""The video a request may carry (--video-*): its flags, their checks, and the spec the load side reads.

Apart from harness/load/video.py (which draws and encodes clips) so that the flags can be
checked without importing the load side, and apart from harness/options.py, which is long enough.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.argparsing import BadOption, at_least
from harness.audiospec import AUDIO_CONTENTS, speech_available

VIDEO_CONTENTS = ("shapes", "noise")
MAX_VIDEO_NUM = 8  # videos per request
MAX_VIDEO_SECONDS = 600.0
MAX_VIDEO_FPS = 60.0
MAX_VIDEO_SIDE_PX = 4096
DEFAULT_WIDTH_PX, DEFAULT_HEIGHT_PX = 640, 360
DEFAULT_SECONDS, DEFAULT_FPS = 2.0, 2.0
VIDEO_MIME_TYPE = "video/mp4"


@dataclass(frozen=True)
class VideoSpec:
    """Videos per request and how each is made; `num` 0: none."""

    num: int = 0
    width_px: int = DEFAULT_WIDTH_PX
    height_px: int = DEFAULT_HEIGHT_PX
    seconds: float = DEFAULT_SECONDS
    fps: float = DEFAULT_FPS
    content: str = "shapes"
    audio: str | None = None  # the clip's own sound track (tone, noise, speech) and use_audio_in_video
    directory: str | None = None  # the user's clips (--video-dir)

    @property
    def frames(self) -> int:
        return max(1, round(self.seconds * self.fps))

    def body_fields(self) -> dict[str, Any]:
        """What a request with these videos adds to the body: vLLM's use_audio_in_video when a track is heard
        (`mm_processor_kwargs`, read by vLLM's Qwen3-Omni processor)."""
        return {"mm_processor_kwargs": {"use_audio_in_video": True}} if self.num and self.audio else {}

    def raw_bytes(self) -> float:
        """A clip's decoded pixel bytes (the memory check's worst case for noise)."""
        return self.width_px * self.height_px * 1.5 * self.frames


def add_video_arguments(add: Callable[..., Any]) -> None:
    add("--video-num", type=int, default=0, help="Video clips per request, sent as video_url MP4 data URLs (0: none)")
    add("--video-width", type=int, default=DEFAULT_WIDTH_PX, help="Video frame width in pixels (even)")
    add("--video-height", type=int, default=DEFAULT_HEIGHT_PX, help="Video frame height in pixels (even)")
    add("--video-seconds", type=float, default=DEFAULT_SECONDS, help="Each clip's length in seconds")
    add("--video-fps", type=float, default=DEFAULT_FPS, help="Frames per second of each clip")
    add(
        "--video-content",
        default="shapes",
        choices=VIDEO_CONTENTS,
        help="shapes (moving rectangles, compresses as footage does) or noise (the worst case for bytes and decoding)",
    )
    add(
        "--video-audio",
        default="",
        choices=("", *AUDIO_CONTENTS),
        metavar="{tone,noise,speech}",
        help="Give each clip its own sound track of this content and ask the server to hear it "
        '("mm_processor_kwargs": {"use_audio_in_video": true}, vLLM\'s Qwen3-Omni field); with --video-dir, '
        "hear the files' own tracks (each must have one)",
    )
    add(
        "--video-dir",
        default="",
        help="Send your own clips (MP4, WEBM, MKV, MOV files in this directory, taken in turn) instead of "
        "synthetic ones; --video-num per request; every file is checked before load",
    )


def video_spec(parsed: argparse.Namespace) -> VideoSpec:
    """--video-* checked (BadOption naming the flag)."""
    at_least("--video-num", parsed.video_num, 0)
    if parsed.video_num > MAX_VIDEO_NUM:
        raise BadOption("--video-num", f"{parsed.video_num} is more than {MAX_VIDEO_NUM} clips per request")
    for flag, side_px in (("--video-width", parsed.video_width), ("--video-height", parsed.video_height)):
        if not 2 <= side_px <= MAX_VIDEO_SIDE_PX or side_px % 2:
            raise BadOption(flag, f"{side_px} must be even, from 2 to {MAX_VIDEO_SIDE_PX} (H.264 4:2:0)")
    if not (math.isfinite(parsed.video_seconds) and 0 < parsed.video_seconds <= MAX_VIDEO_SECONDS):
        raise BadOption("--video-seconds", f"{parsed.video_seconds:g} must be above 0, at most {MAX_VIDEO_SECONDS:g}")
    if not (math.isfinite(parsed.video_fps) and 0.1 <= parsed.video_fps <= MAX_VIDEO_FPS):
        raise BadOption("--video-fps", f"{parsed.video_fps:g} must be from 0.1 to {MAX_VIDEO_FPS:g}")
    if parsed.video_num and parsed.video_audio == "speech" and not speech_available():
        raise BadOption("--video-audio", "speech needs espeak-ng (apt-get install -y espeak-ng), or use tone/noise")
    return VideoSpec(
        num=parsed.video_num,
        width_px=parsed.video_width,
        height_px=parsed.video_height,
        seconds=float(parsed.video_seconds),
        fps=float(parsed.video_fps),
        content=parsed.video_content,
        audio=parsed.video_audio or None,
        directory=parsed.video_dir or None,
    )


# Flags that shape the synthetic clips: without --video-num they have no effect (harness/options.py _NEEDS).
SHAPING_FLAGS: tuple[tuple[str, str, Any], ...] = (
    ("--video-width", "video_width", DEFAULT_WIDTH_PX),
    ("--video-height", "video_height", DEFAULT_HEIGHT_PX),
    ("--video-seconds", "video_seconds", DEFAULT_SECONDS),
    ("--video-fps", "video_fps", DEFAULT_FPS),
    ("--video-content", "video_content", "shapes"),
    ("--video-audio", "video_audio", ""),
    ("--video-dir", "video_dir", ""),
)
