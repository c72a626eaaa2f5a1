"""What a video file holds, as a server reads it: frame size, frame count, and its sound track.

Shared by the simulator (which counts a request's video tokens by it) and the load side (which
expects the same count for the videos it sends, synthetic or the user's --video-dir). Read with
PyAV (FFmpeg's demuxers and decoders, the library vLLM itself uses to pull audio out of a video:
`extract_audio_from_video_bytes` in `vllm/multimodal/media/audio.py`): the frame count comes from
the container's header, as OpenCV's CAP_PROP_FRAME_COUNT that vLLM's loader reads gives it, and
only the sound track is decoded, to count its samples.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from harness.media_tokens import track_audio_tokens, video_tokens

MAX_VIDEO_BYTES = 256 * 1024 * 1024


class VideoError(ValueError):
    """The bytes are not a video the server could read."""


@dataclass(frozen=True)
class VideoFacts:
    """One video as read: its frames and, when it has one, its sound track (mono samples at its rate)."""

    width_px: int
    height_px: int
    frames: int
    fps: float
    audio_samples: int  # 0: no sound track
    audio_rate_hz: int
    container: str = "mp4"  # FFmpeg's demuxer names, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"

    @property
    def seconds(self) -> float:
        return self.frames / self.fps if self.fps > 0 else 0.0

    @property
    def track_tokens(self) -> int:
        """Audio tokens of the sound track (0 without one)."""
        return track_audio_tokens(self.audio_samples, self.audio_rate_hz) if self.audio_samples else 0

    def tokens(self, use_audio_in_video: bool) -> int:
        """Prompt tokens it costs; with use_audio_in_video and a sound track, the track's interleaved too."""
        track = self.track_tokens if use_audio_in_video and self.audio_samples else None
        return video_tokens(self.width_px, self.height_px, self.frames, track)


def read_video(data: bytes) -> VideoFacts:
    """The facts of a video file's bytes; VideoError when it cannot be read."""
    import av

    if len(data) > MAX_VIDEO_BYTES:
        raise VideoError(f"{len(data)} bytes is more than {MAX_VIDEO_BYTES}")
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise VideoError("no video stream")
            video = container.streams.video[0]
            width_px, height_px = video.codec_context.width, video.codec_context.height
            frames = video.frames or sum(1 for packet in container.demux(video) if packet.size)
            fps = float(video.average_rate or video.guessed_rate or 0)
            container_format = container.format.name
            samples, rate_hz = 0, 0
            if container.streams.audio:
                container.seek(0)
                audio = container.streams.audio[0]
                rate_hz = audio.codec_context.sample_rate
                for frame in container.decode(audio):
                    samples += frame.samples
    except av.FFmpegError as exc:
        raise VideoError(f"cannot decode: {exc}") from None
    if width_px <= 0 or height_px <= 0 or frames <= 0:
        raise VideoError(f"no frames ({width_px}x{height_px}, {frames} frames)")
    return VideoFacts(width_px, height_px, frames, fps, samples, rate_hz, container_format)


def video_mime_type(facts: VideoFacts) -> str:
    """The data URL's MIME type for a video of this container format."""
    names = facts.container.split(",")
    if "mp4" in names or "mov" in names:
        return "video/mp4"
    if "webm" in names or "matroska" in names:
        return "video/webm"
    return "video/mp4"
