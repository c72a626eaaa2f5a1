"""Synthetic request images: incompressible noise or evalscope-like flat shapes.

evalscope's `random_vl` images (one flat colour plus 1-5 rectangles, ellipses or lines,
PNG) compress to a few KB and under-state what a photo costs to upload and decode;
noise does not compress at all, so it bounds the cost from above.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from harness.load.png import stored_png

# Same maximum number of shapes as evalscope's random_vl.
MAX_SHAPES = 5
JPEG_QUALITY = 90
# PIL's default zlib level (evalscope's shapes get it too); noise does not compress at
# all, so it is stored at level 0, which encodes 2x faster to the same size.
PNG_COMPRESS_LEVELS = {"shapes": 6, "noise": 0}
MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}
STORED_PNG_MODES = ("L", "LA", "RGB", "RGBA")  # 8-bit modes written by harness/load/png.py


def make_image(width_px: int, height_px: int, mode: str, content: str, rng: np.random.Generator) -> Image.Image:
    """An image of the given size and PIL mode; `content` is "noise" or "shapes"."""
    if content == "noise":
        pixels = np.frombuffer(rng.bytes(height_px * width_px * 3), dtype=np.uint8).reshape(height_px, width_px, 3)
        image = Image.fromarray(pixels, "RGB")
    elif content == "shapes":
        image = _shapes(width_px, height_px, rng)
    else:
        raise ValueError(f"unknown image content {content!r}")
    return image if mode == "RGB" else image.convert(mode)


def encode_image(image: Image.Image, encoding: str, content: str) -> bytes:
    """The image file's bytes as PNG or JPEG; `content` picks the PNG compression level."""
    buffer = io.BytesIO()
    if encoding == "png" and content == "noise" and image.mode in STORED_PNG_MODES:
        return stored_png(np.asarray(image))  # same pixels, ~15x faster than Pillow's filtering
    if encoding == "png":
        image.save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVELS[content])
    elif encoding == "jpeg":
        image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    else:
        raise ValueError(f"unknown image encoding {encoding!r}")
    return buffer.getvalue()


def data_url_prefix(encoding: str) -> str:
    """What comes before the base64 bytes in a data URL, as servers take in `image_url.url`."""
    return f"data:{MIME_TYPES[encoding]};base64,"


def _shapes(width_px: int, height_px: int, rng: np.random.Generator) -> Image.Image:
    def colour() -> tuple[int, int, int]:
        red, green, blue = (int(value) for value in rng.integers(0, 256, 3))
        return red, green, blue

    image = Image.new("RGB", (width_px, height_px), colour())
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(1, MAX_SHAPES + 1))):
        x1, x2 = sorted(int(x) for x in rng.integers(0, width_px, 2))
        y1, y2 = sorted(int(y) for y in rng.integers(0, height_px, 2))
        box = [x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)]
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.rectangle(box, fill=colour())
        elif kind == 1:
            draw.ellipse(box, fill=colour())
        else:
            draw.line(box, fill=colour(), width=int(rng.integers(1, 6)))
    return image
