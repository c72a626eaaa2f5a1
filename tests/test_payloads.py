"""Request bodies and images, built before load."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from harness.audiospec import SAMPLE_RATE_HZ
from harness.load.audio import decoded_seconds, encode_audio, make_audio
from harness.load.images import encode_image, make_image
from harness.load.payloads import PayloadPool, build_payloads
from harness.tokenizer import load_tokenizer

from loadopts import options_from


def decode_first_image(body: bytes) -> Image.Image:
    content = json.loads(body)["messages"][0]["content"]
    url = next(part["image_url"]["url"] for part in content if part["type"] == "image_url")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def test_body_asks_for_exact_output_and_merges_extra_args() -> None:
    options = options_from(
        [
            "--model",
            "m",
            "--max-tokens",
            "64",
            "--image-num",
            "2",
            "--min-prompt-length",
            "50",
            "--max-prompt-length",
            "50",
            "--extra-args",
            '{"top_p": 0.5, "temperature": 0.7}',
            "--image-width",
            "32",
            "--image-height",
            "16",
        ]
    )
    payload = build_payloads(options.payload, "m", load_tokenizer(), 2, seed=1, prefix_seed=1)[0]
    body = json.loads(payload.body)
    assert (body["model"], body["max_tokens"], body["min_tokens"], body["ignore_eos"]) == ("m", 64, 64, True)
    assert body["stream"] and body["stream_options"] == {"include_usage": True}
    assert (body["top_p"], body["temperature"]) == (0.5, 0.7)  # extra args win
    content = body["messages"][0]["content"]
    assert [part["type"] for part in content] == ["text", "image_url", "image_url"]
    assert payload.expected_text_tokens == 50


@pytest.mark.parametrize(
    ("mode", "encoding", "content"),
    [("RGB", "png", "noise"), ("L", "jpeg", "shapes"), ("RGBA", "png", "shapes"), ("RGB", "jpeg", "noise")],
)
def test_images_have_the_asked_size_mode_and_format(mode: str, encoding: str, content: str) -> None:
    options = options_from(
        [
            "--model",
            "m",
            "--image-width",
            "640",
            "--image-height",
            "480",
            "--image-format",
            mode,
            "--image-encoding",
            encoding,
            "--image-content",
            content,
            "--min-prompt-length",
            "20",
            "--max-prompt-length",
            "20",
        ]
    )
    image = decode_first_image(build_payloads(options.payload, "m", load_tokenizer(), 1, seed=2, prefix_seed=2)[0].body)
    assert (image.size, image.mode, image.format) == ((640, 480), mode, encoding.upper())


def test_unique_images_by_default_and_shared_when_asked() -> None:
    argv = [
        "--model",
        "m",
        "--image-width",
        "64",
        "--image-height",
        "64",
        "--min-prompt-length",
        "20",
        "--max-prompt-length",
        "20",
    ]
    unique = build_payloads(options_from(argv).payload, "m", load_tokenizer(), 3, seed=3, prefix_seed=3)
    shared = build_payloads(
        options_from([*argv, "--no-unique-images"]).payload, "m", load_tokenizer(), 3, seed=3, prefix_seed=3
    )
    assert len({decode_first_image(p.body).tobytes() for p in unique}) == 3
    assert len({decode_first_image(p.body).tobytes() for p in shared}) == 1


def test_noise_does_not_compress_and_shapes_do() -> None:
    rng = np.random.default_rng(0)
    noise = encode_image(make_image(256, 256, "RGB", "noise", rng), "png", "noise")
    shapes = encode_image(make_image(256, 256, "RGB", "shapes", rng), "png", "shapes")
    assert len(noise) > 256 * 256 * 3  # no smaller than the raw pixels
    assert len(shapes) < len(noise) / 10


def test_pool_hands_out_in_order_then_counts_reuse() -> None:
    options = options_from(
        ["--model", "m", "--image-num", "0", "--min-prompt-length", "20", "--max-prompt-length", "20"]
    )
    payloads = build_payloads(options.payload, "m", load_tokenizer(), 2, seed=4, prefix_seed=4)
    pool = PayloadPool(payloads)
    assert [pool.take() for _ in range(3)] == [payloads[0], payloads[1], payloads[0]]
    assert pool.reused == 1


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_stored_noise_pngs_decode_to_the_same_pixels(mode: str) -> None:
    import numpy as np

    from harness.load.images import encode_image, make_image

    image = make_image(37, 23, mode, "noise", np.random.default_rng(5))
    decoded = Image.open(io.BytesIO(encode_image(image, "png", "noise")))
    decoded.load()
    assert decoded.mode == mode and decoded.size == (37, 23)
    assert np.array_equal(np.asarray(decoded), np.asarray(image))


@pytest.mark.parametrize("content", ["tone", "noise", "speech"])
def test_audio_content_is_the_asked_length_and_not_silence(content: str) -> None:
    samples = make_audio(2.5, content, np.random.default_rng(1))
    assert len(samples) == 2.5 * SAMPLE_RATE_HZ and samples.dtype == np.float32
    assert 0.05 < float(np.abs(samples).max()) <= 1.0
    wav = encode_audio(samples, "wav")
    assert decoded_seconds(wav) == 2.5
