"""How fast payloads are built: 1,000 at the defaults, 1,000 with noise images, the PNG writers side by side,
and 200 with a video each (a 2-second 640x360 clip with its sound track: shapes, then noise).

1024-token prompts (exact, re-encoded to prove it) and one 512x512 image each, base64 in
the JSON body: the default `--image-content shapes` (evalscope's random_vl images), then
`noise` (the worst-case upload). The PNG comparison encodes the same noise images with
Pillow (level 0: it still filters every row) and with harness/load/png.py's stored writer.

    .venv/bin/python bench/payload_build.py
"""

from __future__ import annotations

import io
import time

import numpy as np

from harness.load.images import make_image
from harness.load.payloads import build_payloads
from harness.load.png import stored_png
from harness.options import options_from_argv
from harness.tokenizer import load_tokenizer

PAYLOADS = 1000
IMAGES = 100
VIDEO_PAYLOADS = 200


def main() -> None:
    images = [make_image(512, 512, "RGB", "noise", np.random.default_rng(index)) for index in range(IMAGES)]
    started_s = time.perf_counter()
    for image in images:
        image.save(io.BytesIO(), "PNG", compress_level=0)
    pillow_s = (time.perf_counter() - started_s) / IMAGES
    started_s = time.perf_counter()
    for image in images:
        stored_png(np.asarray(image))
    stored_s = (time.perf_counter() - started_s) / IMAGES
    print(
        f"512x512 noise PNG: Pillow {pillow_s * 1000:.1f} ms, stored {stored_s * 1000:.1f} ms "
        f"({pillow_s / stored_s:.0f}x)"
    )
    tokenizer = load_tokenizer()
    for content in ("shapes", "noise"):
        options = options_from_argv(["--model", "m", "--image-content", content], "http://127.0.0.1:9")
        build_payloads(options.payload, "m", tokenizer, 10, 0, 0)  # warm up
        started_s = time.perf_counter()
        built = build_payloads(options.payload, "m", tokenizer, PAYLOADS, 1, 0)
        print(
            f"{PAYLOADS} payloads, --image-content {content}{' (the default)' if content == 'shapes' else ''}: "
            f"{time.perf_counter() - started_s:.1f} s "
            f"(mean body {sum(len(p.body) for p in built) / len(built) / 1024:.0f} KB, "
            f"all distinct: {len({p.body for p in built}) == len(built)})",
            flush=True,
        )
    for content in ("shapes", "noise"):
        flags = ["--model", "m", "--image-num", "0", "--video-num", "1", "--video-audio", "tone"]
        options = options_from_argv([*flags, "--video-content", content], "http://127.0.0.1:9")
        build_payloads(options.payload, "m", tokenizer, 4, 0, 0)  # warm up
        started_s = time.perf_counter()
        built = build_payloads(options.payload, "m", tokenizer, VIDEO_PAYLOADS, 1, 0)
        took_s = time.perf_counter() - started_s
        print(
            f"{VIDEO_PAYLOADS} payloads with a 2 s 640x360 video and its sound track, --video-content {content}: "
            f"{took_s:.1f} s, {took_s / VIDEO_PAYLOADS * 1000:.0f} ms each "
            f"(mean body {sum(len(p.body) for p in built) / len(built) / 1024:.0f} KB, "
            f"all distinct: {len({p.body for p in built}) == len(built)})",
            flush=True,
        )


if __name__ == "__main__":
    main()
