"""Parse and validate an OpenAI chat-completions body the way vLLM does.

Media are decoded only as far as their size needs: Pillow reads an image's header,
soundfile an audio clip's frame count, PyAV a video's header and its sound track
(harness/videofile.py). Remote URLs are refused (the simulator is offline).

A video (`video_url`) costs what vLLM's Qwen3-Omni processor makes of it
(harness/media_tokens.py); with `mm_processor_kwargs: {"use_audio_in_video": true}` its sound
track is heard too, and a video without one is refused, as vLLM's processor requires an audio
item for every such video (`_maybe_apply_prompt_updates` in
`vllm/model_executor/models/qwen3_omni_moe_thinker.py`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any

from harness.media_tokens import audio_tokens, image_tokens
from harness.sim.errors import SimRequestError
from harness.sim.talker import SpeechRequest, speech_request
from harness.videofile import VideoError, VideoFacts, read_video

IMAGE_FORMATS = ("PNG", "JPEG")
# Base64 characters decoded to read an image's size and mode (48 KiB of file head).
IMAGE_HEAD_B64_CHARS = 65536


@dataclass
class ImageInfo:
    """An image of a request as the simulator decoded its head: size, mode, format."""

    width_px: int
    height_px: int
    mode: str
    format: str


@dataclass
class ChatRequest:
    """What the simulator needs from one request; token counts filled in by the server."""

    model: str
    text_messages: list[dict[str, str]]
    stream: bool
    include_usage: bool
    max_tokens: int | None
    min_tokens: int
    ignore_eos: bool
    seed: int | None
    images: list[ImageInfo] = field(default_factory=list)
    audio_durations_s: list[float] = field(default_factory=list)
    videos: list[VideoFacts] = field(default_factory=list)
    video_digests: list[str] = field(default_factory=list)  # blake2b of each video file, 8 bytes hex
    use_audio_in_video: bool = False
    message_media: list[list[tuple[str, int]]] = field(default_factory=list)  # per message: (digest, tokens) a part
    messages_digest: str = ""  # blake2b of the messages as compact JSON: a dataset row's, sent as it was
    vllm_fields: tuple[str, ...] = ()  # vLLM's own extensions present in the body (a plain server refuses them)
    speech: SpeechRequest | None = None  # audio asked for (modalities), and in which stream shape

    @property
    def image_tokens(self) -> int:
        return sum(image_tokens(image.width_px, image.height_px) for image in self.images)

    @property
    def audio_tokens(self) -> int:
        return sum(audio_tokens(duration_s) for duration_s in self.audio_durations_s)

    @property
    def video_tokens(self) -> int:
        """The videos' tokens, their heard sound tracks included."""
        return sum(video.tokens(self.use_audio_in_video) for video in self.videos)

    @property
    def video_track_tokens(self) -> int:
        """Of which the sound tracks' audio tokens (0 unless heard)."""
        return sum(video.track_tokens for video in self.videos) if self.use_audio_in_video else 0


# Request fields only vLLM knows (its SamplingParams extensions and its processor's kwargs) that omniload may send.
VLLM_EXTENSION_FIELDS = frozenset({"min_tokens", "ignore_eos", "mm_processor_kwargs"})


def parse_chat_request(body: bytes, served_models: tuple[str, ...]) -> ChatRequest:
    """Validate a request body; raise SimRequestError with vLLM's status and wording."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SimRequestError(400, f"JSON decode error: {exc}") from None
    if not isinstance(payload, dict):
        raise SimRequestError(400, "Request body must be a JSON object")
    model = payload.get("model")
    if model is not None and model not in served_models:
        raise SimRequestError(404, f"The model `{model}` does not exist.", "model")
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise SimRequestError(400, "Field required: messages", "messages")
    request = ChatRequest(
        model=model or served_models[0],
        text_messages=[],
        stream=bool(payload.get("stream", False)),
        include_usage=bool((payload.get("stream_options") or {}).get("include_usage", False)),
        max_tokens=_optional_int(payload, "max_completion_tokens", minimum=1)
        or _optional_int(payload, "max_tokens", minimum=1),
        min_tokens=_optional_int(payload, "min_tokens", minimum=0) or 0,
        ignore_eos=bool(payload.get("ignore_eos", False)),
        seed=_optional_int(payload, "seed", minimum=None),
        vllm_fields=tuple(sorted(VLLM_EXTENSION_FIELDS & payload.keys())),
        speech=speech_request(payload),
    )
    temperature = payload.get("temperature")
    if temperature is not None and (not isinstance(temperature, (int, float)) or temperature < 0):
        raise SimRequestError(400, "temperature must be a non-negative number", "temperature")
    if request.max_tokens is not None and request.min_tokens > request.max_tokens:
        raise SimRequestError(
            400,
            f"min_tokens must be less than or equal to max_tokens={request.max_tokens}, got {request.min_tokens}.",
            "min_tokens",
        )
    processor_kwargs = payload.get("mm_processor_kwargs")
    if processor_kwargs is not None and not isinstance(processor_kwargs, dict):
        raise SimRequestError(400, "mm_processor_kwargs must be an object", "mm_processor_kwargs")
    request.use_audio_in_video = bool((processor_kwargs or {}).get("use_audio_in_video", False))
    request.messages_digest = hashlib.blake2b(
        json.dumps(messages, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), digest_size=8
    ).hexdigest()
    for message in messages:
        request.text_messages.append(_flatten_message(message, request))
    if request.use_audio_in_video and any(not video.audio_samples for video in request.videos):
        raise SimRequestError(400, "use_audio_in_video: a video has no audio track to use", "mm_processor_kwargs")
    return request


def _optional_int(payload: dict[str, Any], key: str, minimum: int | None) -> int | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise SimRequestError(400, f"{key} must be an integer", key)
    if minimum is not None and value < minimum:
        raise SimRequestError(400, f"{key} must be at least {minimum}, got {value}.", key)
    return value


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _flatten_message(message: Any, request: ChatRequest) -> dict[str, str]:
    """The message with its text parts joined; media parts decoded into `request` (and listed, with their
    digests and tokens, in its message_media for the prefix cache)."""
    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
        raise SimRequestError(400, "each message needs a string 'role'", "messages")
    request.message_media.append([])
    content = message.get("content")
    if content is None or isinstance(content, str):
        return {"role": message["role"], "content": content or ""}
    if not isinstance(content, list):
        raise SimRequestError(400, "message content must be a string or a list of parts", "messages")
    texts: list[str] = []
    media = request.message_media[-1]
    for part in content:
        part_type = part.get("type") if isinstance(part, dict) else None
        if part_type == "text":
            texts.append(str(part.get("text", "")))
        elif part_type == "image_url":
            url = _part_url(part, "image_url")
            request.images.append(_decode_image(url))
            media.append((_digest(url), image_tokens(request.images[-1].width_px, request.images[-1].height_px)))
        elif part_type == "input_audio":
            audio = part.get("input_audio") or {}
            request.audio_durations_s.append(_audio_duration_s(_b64decode(audio.get("data"), "input_audio")))
            media.append((_digest(str(audio.get("data"))), audio_tokens(request.audio_durations_s[-1])))
        elif part_type == "video_url":
            _media_type, data = _split_data_url(_part_url(part, "video_url"), "video_url")
            try:
                video = read_video(data)
                video.tokens(False)
            except (VideoError, ValueError) as exc:
                raise SimRequestError(400, f"video_url: cannot decode video: {exc}", "messages") from None
            request.videos.append(video)
            request.video_digests.append(hashlib.blake2b(data, digest_size=8).hexdigest())
            media.append((request.video_digests[-1], video.tokens(request.use_audio_in_video)))
        elif part_type == "audio_url":
            _media_type, data = _split_data_url(_part_url(part, "audio_url"), "audio_url")
            request.audio_durations_s.append(_audio_duration_s(data))
            media.append((_digest(data.hex()), audio_tokens(request.audio_durations_s[-1])))
        else:
            raise SimRequestError(400, f"Unknown part type: {part_type}", "messages")
    return {"role": message["role"], "content": "".join(texts)}


def _part_url(part: dict[str, Any], key: str) -> str:
    holder = part.get(key)
    url = holder.get("url") if isinstance(holder, dict) else holder
    if not isinstance(url, str):
        raise SimRequestError(400, f"{key} part needs a url", "messages")
    return url


def _split_data_url(url: str, key: str, prefix_chars: int | None = None) -> tuple[str, bytes]:
    """(media type, decoded data) of a base64 data URL; only the first prefix_chars if given."""
    if url.startswith(("http://", "https://", "file:")):
        raise SimRequestError(
            400, f"{key}: remote URLs are not fetched by the offline simulator; send a data URL", "messages"
        )
    if not url.startswith("data:") or ";base64," not in url:
        raise SimRequestError(400, f"{key}: expected a data:<mime>;base64,<data> URL", "messages")
    header, encoded = url.split(",", 1)
    return header[5:].split(";", 1)[0], _b64decode(encoded[:prefix_chars], key)


def _b64decode(encoded: Any, key: str) -> bytes:
    if not isinstance(encoded, str):
        raise SimRequestError(400, f"{key}: missing base64 data", "messages")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SimRequestError(400, f"{key}: invalid base64 data", "messages") from None


def _decode_image(url: str) -> ImageInfo:
    from PIL import Image, UnidentifiedImageError

    # Size and mode are in the file's head: decoding only that keeps a 1 MB image from
    # costing the event loop ~3 ms of base64. Heads too long for it get the whole file.
    info = None
    for prefix_chars in (IMAGE_HEAD_B64_CHARS, None):
        _media_type, data = _split_data_url(url, "image_url", prefix_chars)
        try:
            with Image.open(io.BytesIO(data)) as image:
                info = ImageInfo(image.width, image.height, image.mode, image.format or "")
                break
        except (UnidentifiedImageError, OSError) as exc:
            if prefix_chars is None or len(data) < IMAGE_HEAD_B64_CHARS * 3 // 4:
                raise SimRequestError(400, f"image_url: cannot identify image: {exc}", "messages") from None
    assert info is not None
    if info.format not in IMAGE_FORMATS:
        raise SimRequestError(400, f"image_url: unsupported image format {info.format}", "messages")
    try:
        image_tokens(info.width_px, info.height_px)
    except ValueError as exc:
        raise SimRequestError(400, f"image_url: {exc}", "messages") from None
    return info


def _audio_duration_s(data: bytes) -> float:
    import soundfile

    try:
        info = soundfile.info(io.BytesIO(data))
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise SimRequestError(400, f"audio: cannot decode: {exc}", "messages") from None
    return info.frames / info.samplerate
