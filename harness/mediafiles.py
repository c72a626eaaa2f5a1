"""The user's own media (--image-dir, --audio-dir, --video-dir): every file read and checked once, before load.

Each image is opened with Pillow (its format gives the data URL's MIME type, its size the
tokens Qwen3-Omni's processor makes of it); each clip with libsndfile (its format is the
`input_audio` format, its decoded length the audio tokens). A file that cannot be read is
a MediaError naming it, which the flags turn into one line and exit 2 before any request. Each
video is read with PyAV (harness/videofile.py): its frames and sound track give its tokens.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import soundfile
from PIL import Image, UnidentifiedImageError

from harness.media_tokens import audio_tokens, image_tokens
from harness.videofile import VideoError, VideoFacts, read_video, video_mime_type

IMAGE_MIME_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
AUDIO_FILE_FORMATS = ("wav", "flac", "mp3", "ogg")  # as OpenAI's input_audio.format names them
MAX_FILES = 10_000  # files read from one directory (sorted by name)
MAX_FILE_BYTES = 64 * 1024 * 1024
IMAGE_DIR_FLAG, AUDIO_DIR_FLAG, VIDEO_DIR_FLAG = "--image-dir", "--audio-dir", "--video-dir"


class MediaError(ValueError):
    """A media directory or one of its files cannot be used; the message names it, `flag` the flag that gave it."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(message)
        self.flag = flag


@dataclass(frozen=True)
class MediaFile:
    """One file as it is sent: its bytes, the MIME type or audio format it is sent as, the tokens it makes."""

    path: str
    file_bytes: bytes
    kind: str  # image: its MIME type (image/png ...); audio: its format (wav, mp3 ...)
    tokens: int  # what Qwen3-Omni's processor makes of it (harness/media_tokens.py)
    seconds: float = 0.0  # a clip's decoded length


def image_mime_type(image_bytes: bytes) -> str:
    """The MIME type of an image file's bytes, from what Pillow reads in them (PNG when unknown)."""
    with Image.open(io.BytesIO(image_bytes)) as image:
        return IMAGE_MIME_TYPES.get(image.format or "", "image/png")


def _files(directory: str, flag: str) -> list[Path]:
    folder = Path(directory)
    if not folder.is_dir():
        raise MediaError(flag, f"{directory} is not a directory")
    files = sorted(path for path in folder.iterdir() if path.is_file() and not path.name.startswith("."))[:MAX_FILES]
    if not files:
        raise MediaError(flag, f"{directory} holds no files")
    return files


def _read(path: Path, flag: str) -> bytes:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise MediaError(flag, f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    return path.read_bytes()


def read_image_dir(directory: str) -> list[MediaFile]:
    """Every image in `directory`, decoded once (MediaError naming the first that cannot be)."""
    images = []
    for path in _files(directory, IMAGE_DIR_FLAG):
        file_bytes = _read(path, IMAGE_DIR_FLAG)
        try:
            with Image.open(io.BytesIO(file_bytes)) as image:
                image.load()  # the whole file, not only its header: a truncated image fails here
                width_px, height_px, file_format = image.width, image.height, image.format or ""
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise MediaError(IMAGE_DIR_FLAG, f"{path}: not an image Pillow can read ({type(exc).__name__})") from None
        if file_format not in IMAGE_MIME_TYPES:
            raise MediaError(
                IMAGE_DIR_FLAG, f"{path}: {file_format} images are not sent (use {', '.join(IMAGE_MIME_TYPES)})"
            )
        images.append(
            MediaFile(str(path), file_bytes, IMAGE_MIME_TYPES[file_format], image_tokens(width_px, height_px))
        )
    return images


def read_audio_dir(directory: str) -> list[MediaFile]:
    """Every clip in `directory`, decoded once (MediaError naming the first that cannot be)."""
    clips = []
    for path in _files(directory, AUDIO_DIR_FLAG):
        file_bytes = _read(path, AUDIO_DIR_FLAG)
        try:
            info = soundfile.info(io.BytesIO(file_bytes))
            soundfile.read(
                io.BytesIO(file_bytes), frames=min(info.frames, 1024)
            )  # the data decodes, not only the header
        except (RuntimeError, soundfile.LibsndfileError, TypeError, ValueError) as exc:
            raise MediaError(AUDIO_DIR_FLAG, f"{path}: not audio libsndfile can read ({type(exc).__name__})") from None
        file_format = info.format.lower()
        if file_format not in AUDIO_FILE_FORMATS or info.samplerate <= 0 or info.frames <= 0:
            raise MediaError(
                AUDIO_DIR_FLAG,
                f"{path}: {info.format} audio of {info.frames} frames is not sent "
                f"(use {', '.join(AUDIO_FILE_FORMATS)})",
            )
        seconds = info.frames / info.samplerate
        clips.append(MediaFile(str(path), file_bytes, file_format, audio_tokens(seconds), seconds))
    return clips


@dataclass(frozen=True)
class VideoFile:
    """One of the user's videos as it is sent, and what it holds."""

    path: str
    file_bytes: bytes
    mime_type: str
    facts: VideoFacts


def read_video_dir(directory: str, hear_tracks: bool) -> list[VideoFile]:
    """Every video in `directory`, read once (MediaError naming the first that cannot be sent; with
    `hear_tracks`, one without a sound track is one of them: the server would have none to hear)."""
    videos = []
    for path in _files(directory, VIDEO_DIR_FLAG):
        file_bytes = _read(path, VIDEO_DIR_FLAG)
        try:
            facts = read_video(file_bytes)
            facts.tokens(hear_tracks)
        except (VideoError, ValueError) as exc:
            raise MediaError(VIDEO_DIR_FLAG, f"{path}: not a video that can be sent ({exc})") from None
        if hear_tracks and not facts.audio_samples:
            raise MediaError(VIDEO_DIR_FLAG, f"{path}: has no sound track to hear (--video-audio)")
        videos.append(VideoFile(str(path), file_bytes, video_mime_type(facts), facts))
    return videos
