import pytest

from harness.media_tokens import audio_tokens, image_tokens, resized_image_size, track_audio_tokens, video_tokens


def test_image_tokens_follow_qwen_resize_rule() -> None:
    # 512/32 = 16 per side: 256 pads + vision_start/end
    assert image_tokens(512, 512) == 258
    # 1024x768 -> 32x24 patches of 32 px
    assert image_tokens(1024, 768) == 32 * 24 + 2
    # 500 rounds to 512 (15.6 -> 16), 300 rounds to 288 (9.4 -> 9)
    assert resized_image_size(300, 500) == (288, 512)


def test_tiny_image_is_scaled_up_to_min_pixels() -> None:
    # 10x10: beta = sqrt(3136/100) = 5.6 -> ceil(56/32)*32 = 64 per side -> 2x2
    assert image_tokens(10, 10) == 4 + 2


def test_huge_image_is_scaled_down_to_max_pixels() -> None:
    height, width = resized_image_size(4000, 4000)
    assert height * width <= 28 * 28 * 1280
    assert height % 32 == 0 and width % 32 == 0


def test_extreme_aspect_ratio_is_refused() -> None:
    with pytest.raises(ValueError):
        image_tokens(10_000, 10)


def test_audio_tokens_thirteen_per_second() -> None:
    assert audio_tokens(1.0) == 13 + 2
    assert audio_tokens(2.0) == 26 + 2
    # 2.5 s = 250 frames: 2 chunks (26) + 50 frames -> feat 25 -> 13 -> 7 tokens
    assert audio_tokens(2.5) == 26 + 7 + 2
    assert audio_tokens(0.0) == 2


def _transformers_video_tokens(width_px: int, height_px: int, frames: int, audio_mel_frames: int | None) -> int:
    """The count by transformers' own Qwen3-Omni code: smart_resize with the processor's video bounds,
    grid_thw as the video processor pads it, and (audio in video) replace_video_with_audio_token's string."""
    import math
    from types import SimpleNamespace

    import numpy as np
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize
    from transformers.models.qwen3_omni_moe import processing_qwen3_omni_moe as omni

    bounds = omni.Qwen3OmniMoeProcessor.videos_kwargs["size"]
    height, width = smart_resize(
        height_px, width_px, factor=32, min_pixels=bounds["shortest_edge"], max_pixels=bounds["longest_edge"]
    )
    grid_thw = np.array([math.ceil(min(frames, 32) / 2), height // 16, width // 16])
    if audio_mel_frames is None:
        return int(grid_thw.prod()) // 4 + 2
    fake = SimpleNamespace(
        video_processor=SimpleNamespace(merge_size=2),
        audio_bos_token="<a>",
        audio_eos_token="</a>",
        video_token="V",
        audio_token="A",
    )
    audio = {"num_audio_tokens": omni._get_feat_extract_output_lengths(np.array([audio_mel_frames]), 50)}
    videos = {"video_grid_thw": [grid_thw], "video_second_per_grid": [1.0]}
    text = omni.Qwen3OmniMoeProcessor.replace_video_with_audio_token(
        fake, videos, 0, audio, 0, position_id_per_seconds=13.0
    )
    interleaved = text.removeprefix("<a>").removesuffix("</a>")
    assert set(interleaved) <= {"V", "A"}
    return len(interleaved) + 2 + 2  # the interleaved tokens, <|audio_start|>/<|audio_end|>, vision start/end


@pytest.mark.parametrize(
    ("width_px", "height_px", "frames"),
    [(640, 360, 4), (320, 240, 8), (1920, 1080, 120), (1280, 720, 33), (256, 256, 1), (224, 160, 5)],
)
def test_video_tokens_equal_transformers_count(width_px: int, height_px: int, frames: int) -> None:
    assert video_tokens(width_px, height_px, frames) == _transformers_video_tokens(width_px, height_px, frames, None)


@pytest.mark.parametrize(
    ("width_px", "height_px", "frames", "samples", "rate_hz"),
    [(640, 360, 4, 32_000, 16_000), (320, 240, 10, 48_000, 24_000), (640, 480, 60, 44_100 * 3 + 17, 44_100)],
)
def test_video_with_audio_tokens_equal_transformers_interleave(
    width_px: int, height_px: int, frames: int, samples: int, rate_hz: int
) -> None:
    import math

    mel_frames = math.ceil(math.ceil(samples * 16_000 / rate_hz) / 160)
    expected = _transformers_video_tokens(width_px, height_px, frames, mel_frames)
    assert video_tokens(width_px, height_px, frames, track_audio_tokens(samples, rate_hz)) == expected


def test_video_frames_are_capped_as_vllm_decodes_them() -> None:
    # 32 frames at most (vLLM's num_frames), padded to even: 300 frames cost what 32 do, 3 what 4 do
    assert video_tokens(640, 360, 300) == video_tokens(640, 360, 32) == 16 * 220 + 2
    assert video_tokens(640, 360, 3) == video_tokens(640, 360, 4) == 442
