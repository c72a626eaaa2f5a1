"""Stored (uncompressed) PNG files written straight from pixel arrays, for noise images.

Noise does not compress, so zlib has nothing to gain; but Pillow still filters every row
before storing it (16 ms for a 512x512 RGB image here). Writing the file with filter 0
and zlib's stored blocks costs about 1 ms and gives the same pixels, so a thousand
unique noise payloads build in seconds. Everything else goes through Pillow.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, grey+alpha, RGB, RGBA)
BIT_DEPTH = 8


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def stored_png(pixels: np.ndarray) -> bytes:
    """A PNG file of uint8 pixels shaped (height, width) or (height, width, channels 1-4)."""
    if pixels.dtype != np.uint8:
        raise ValueError("8-bit pixels only")
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    rows = np.empty((height, 1 + width * channels), dtype=np.uint8)
    rows[:, 0] = 0  # filter type 0 (none) on every row
    rows[:, 1:] = pixels.reshape(height, width * channels)
    header = struct.pack(">IIBBBBB", width, height, BIT_DEPTH, COLOUR_TYPES[channels], 0, 0, 0)
    return (
        SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 0)) + _chunk(b"IEND", b"")
    )
