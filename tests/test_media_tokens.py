import pytest

from harness.media_tokens import audio_tokens, image_tokens, resized_image_size


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
