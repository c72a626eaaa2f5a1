"""Prompt token accounting as vLLM does it for Qwen3-Omni.

The simulator counts by it; the load generator expects by it.

Text: the messages' text parts rendered with the chat template and tokenized.

Image (Qwen-VL resize rule, `smart_resize` in transformers' Qwen2-VL image processor,
with Qwen3-Omni's vision config: patch 16, spatial merge 2, so factor 32): each side is
rounded to the nearest multiple of 32; if the area leaves [MIN_PIXELS, MAX_PIXELS] both
sides are scaled to fit (floor/ceil to the factor). The image then costs
(h/32)·(w/32) `<|image_pad|>` tokens plus `<|vision_start|>`/`<|vision_end|>`.
A 512×512 image costs 16·16 + 2 = 258 tokens.

Audio (Qwen3-Omni's audio encoder, `_get_feat_extract_output_lengths` with n_window 50):
the clip is resampled to 16 kHz and cut into mel frames of 10 ms (100 per second); every
full 100 frames give 13 tokens, the remainder r gives ((⌈r/2⌉ − 1)//2 + 1 − 1)//2 + 1 when
r > 0, plus `<|audio_start|>`/`<|audio_end|>`. One second costs 13 + 2 = 15 tokens.

Video (vLLM's video path for Qwen3-Omni):
- frames: vLLM's `VideoMediaIO` decodes at most `num_frames` (default 32, `--media-io-kwargs`),
  all of a shorter clip, otherwise 32 spread evenly (`vllm/multimodal/video.py`);
- Qwen3-Omni's video processor (`Qwen2VLVideoProcessor`, transformers
  `models/qwen2_vl/video_processing_qwen2_vl.py`) pads them to an even count
  (`temporal_patch_size` 2: grid_t = ⌈frames/2⌉) and resizes every frame with the same
  smart resize as images but the processor's video bounds (`Qwen3OmniMoeProcessor.videos_kwargs`,
  `models/qwen3_omni_moe/processing_qwen3_omni_moe.py`: 128·32·32 to 768·32·32 pixels);
- tokens: grid_t · (h/32) · (w/32) `<|video_pad|>` plus `<|vision_start|>`/`<|vision_end|>`.
  A 2-second 640×360 clip at 2 fps: 4 frames, grid_t 2, 352×640 → 2·11·20 + 2 = 442.

Audio in video (`mm_processor_kwargs: {"use_audio_in_video": true}`): vLLM's
`get_updates_use_audio_in_video` (`vllm/model_executor/models/qwen3_omni_moe_thinker.py`) replaces
the video's `<|video_pad|>` with `<|audio_start|>`, the video and audio tokens interleaved by time,
and `<|audio_end|>`: the count is the video's tokens, the track's audio tokens and two more.
The track is read as vLLM reads any clip: mono, resampled to 16 kHz (output length ⌈n·16000/rate⌉,
as librosa's resampler gives), padded to whole 10 ms hops (`_call_hf_processor`: ⌈samples/160⌉ mel
frames), then counted by the encoder rule above.
"""

from __future__ import annotations

import math

IMAGE_FACTOR_PX = 32  # patch_size 16 × spatial_merge_size 2
IMAGE_MIN_PIXELS = 56 * 56
IMAGE_MAX_PIXELS = 28 * 28 * 1280
IMAGE_WRAPPER_TOKENS = 2  # <|vision_start|> … <|vision_end|>
MAX_ASPECT_RATIO = 200

AUDIO_SAMPLE_RATE_HZ = 16_000
AUDIO_HOP_SAMPLES = 160  # one mel frame per 10 ms
AUDIO_CHUNK_FRAMES = 100  # n_window 50 × 2
AUDIO_TOKENS_PER_CHUNK = 13
AUDIO_WRAPPER_TOKENS = 2  # <|audio_start|> … <|audio_end|>

VIDEO_MAX_FRAMES = 32  # vLLM VideoMediaIO's num_frames default
VIDEO_TEMPORAL_PATCH = 2  # temporal_patch_size
VIDEO_MIN_PIXELS = 128 * 32 * 32  # Qwen3OmniMoeProcessor.videos_kwargs size.shortest_edge
VIDEO_MAX_PIXELS = 768 * 32 * 32  # size.longest_edge
VIDEO_WRAPPER_TOKENS = 2  # <|vision_start|> … <|vision_end|>
AUDIO_IN_VIDEO_WRAPPER_TOKENS = 2  # <|audio_start|> … <|audio_end|> around the interleaved tokens


def resized_image_size(
    height_px: int, width_px: int, min_pixels: int = IMAGE_MIN_PIXELS, max_pixels: int = IMAGE_MAX_PIXELS
) -> tuple[int, int]:
    """(height, width) after the Qwen-VL smart resize; ValueError on extreme aspect ratios."""
    if min(height_px, width_px) <= 0:
        raise ValueError(f"image has no pixels: {width_px}x{height_px}")
    if max(height_px, width_px) / min(height_px, width_px) > MAX_ASPECT_RATIO:
        raise ValueError(f"absolute aspect ratio must be smaller than {MAX_ASPECT_RATIO}")
    factor = IMAGE_FACTOR_PX
    h_bar = max(factor, round(height_px / factor) * factor)
    w_bar = max(factor, round(width_px / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height_px * width_px / max_pixels)
        h_bar = max(factor, math.floor(height_px / beta / factor) * factor)
        w_bar = max(factor, math.floor(width_px / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height_px * width_px))
        h_bar = math.ceil(height_px * beta / factor) * factor
        w_bar = math.ceil(width_px * beta / factor) * factor
    return h_bar, w_bar


def image_tokens(width_px: int, height_px: int) -> int:
    """Prompt tokens one image of this size adds, wrapper tokens included."""
    h_bar, w_bar = resized_image_size(height_px, width_px)
    return (h_bar // IMAGE_FACTOR_PX) * (w_bar // IMAGE_FACTOR_PX) + IMAGE_WRAPPER_TOKENS


def audio_tokens(duration_s: float) -> int:
    """Prompt tokens one audio clip of this duration adds, wrapper tokens included."""
    frames = int(duration_s * AUDIO_SAMPLE_RATE_HZ) // AUDIO_HOP_SAMPLES
    return _encoder_tokens(frames) + AUDIO_WRAPPER_TOKENS


def _encoder_tokens(frames: int) -> int:
    """Audio tokens of `frames` mel frames (the encoder's chunked convolution rule)."""
    full_chunks, rest_frames = divmod(frames, AUDIO_CHUNK_FRAMES)
    rest_tokens = 0
    if rest_frames > 0:
        feat = (rest_frames - 1) // 2 + 1
        rest_tokens = ((feat - 1) // 2 + 1 - 1) // 2 + 1
    return full_chunks * AUDIO_TOKENS_PER_CHUNK + rest_tokens


def track_audio_tokens(samples: int, sample_rate_hz: int) -> int:
    """Audio tokens of a video's sound track of `samples` (mono) at this rate, no wrapper tokens."""
    if samples <= 0:
        return 0
    resampled = math.ceil(samples * AUDIO_SAMPLE_RATE_HZ / sample_rate_hz)
    return _encoder_tokens(math.ceil(resampled / AUDIO_HOP_SAMPLES))


def sampled_video_frames(total_frames: int) -> int:
    """Frames of a clip the server decodes (vLLM's default loader)."""
    return min(total_frames, VIDEO_MAX_FRAMES)


def video_tokens(width_px: int, height_px: int, total_frames: int, track_tokens: int | None = None) -> int:
    """Prompt tokens one video adds, wrapper tokens included; with `track_tokens` (its sound track's audio
    tokens, when sent with use_audio_in_video) those and their two wrapper tokens too."""
    if total_frames <= 0:
        raise ValueError("video has no frames")
    grid_t = math.ceil(sampled_video_frames(total_frames) / VIDEO_TEMPORAL_PATCH)
    h_bar, w_bar = resized_image_size(height_px, width_px, VIDEO_MIN_PIXELS, VIDEO_MAX_PIXELS)
    tokens = grid_t * (h_bar // IMAGE_FACTOR_PX) * (w_bar // IMAGE_FACTOR_PX) + VIDEO_WRAPPER_TOKENS
    if track_tokens is not None:
        tokens += track_tokens + AUDIO_IN_VIDEO_WRAPPER_TOKENS
    return tokens
