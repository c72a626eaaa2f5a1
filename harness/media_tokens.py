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


def resized_image_size(height_px: int, width_px: int) -> tuple[int, int]:
    """(height, width) after the Qwen-VL smart resize; ValueError on extreme aspect ratios."""
    if min(height_px, width_px) <= 0:
        raise ValueError(f"image has no pixels: {width_px}x{height_px}")
    if max(height_px, width_px) / min(height_px, width_px) > MAX_ASPECT_RATIO:
        raise ValueError(f"absolute aspect ratio must be smaller than {MAX_ASPECT_RATIO}")
    factor = IMAGE_FACTOR_PX
    h_bar = max(factor, round(height_px / factor) * factor)
    w_bar = max(factor, round(width_px / factor) * factor)
    if h_bar * w_bar > IMAGE_MAX_PIXELS:
        beta = math.sqrt(height_px * width_px / IMAGE_MAX_PIXELS)
        h_bar = max(factor, math.floor(height_px / beta / factor) * factor)
        w_bar = max(factor, math.floor(width_px / beta / factor) * factor)
    elif h_bar * w_bar < IMAGE_MIN_PIXELS:
        beta = math.sqrt(IMAGE_MIN_PIXELS / (height_px * width_px))
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
    full_chunks, rest_frames = divmod(frames, AUDIO_CHUNK_FRAMES)
    rest_tokens = 0
    if rest_frames > 0:
        feat = (rest_frames - 1) // 2 + 1
        rest_tokens = ((feat - 1) // 2 + 1 - 1) // 2 + 1
    return full_chunks * AUDIO_TOKENS_PER_CHUNK + rest_tokens + AUDIO_WRAPPER_TOKENS
