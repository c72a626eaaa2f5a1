"""Make harness/data/omnibench_sample.parquet: OmniBench-shaped samples, synthesized offline.

The layout is m-a-p/OmniBench's (split train): index, task type, audio type, question,
options (list), answer (the option text), image and audio as {bytes, path}, image content,
audio content. Images are drawn with Pillow; speech comes from espeak-ng (Debian package
espeak-ng), other audio is tones. Each question needs both the image and the audio, and
is numbered ("Card N.") so that question texts are unique, as OmniBench's are.

    .venv/bin/python scripts/make_omnibench_sample.py   # rewrites the parquet file
"""

from __future__ import annotations

import io
import os
import subprocess
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile
from PIL import Image, ImageDraw

OUT = os.path.join(os.path.dirname(__file__), "..", "harness", "data", "omnibench_sample.parquet")
COLORS = {"red": (220, 30, 30), "green": (30, 170, 60), "blue": (40, 70, 220), "yellow": (235, 200, 20)}
SHAPES = ("circle", "square", "triangle")
SAMPLE_RATE = 16_000
SIDE = 256


def draw(shapes: list[tuple[str, str]], rng: np.random.Generator) -> bytes:
    image = Image.new("RGB", (SIDE, SIDE), (245, 245, 240))
    pen = ImageDraw.Draw(image)
    for slot, (shape, color) in enumerate(shapes):
        x, y = 20 + (slot % 3) * 80 + int(rng.integers(0, 10)), 20 + (slot // 3) * 80 + int(rng.integers(0, 10))
        box = (x, y, x + 56, y + 56)
        if shape == "circle":
            pen.ellipse(box, fill=COLORS[color])
        elif shape == "square":
            pen.rectangle(box, fill=COLORS[color])
        else:
            pen.polygon([(x + 28, y), (x + 56, y + 56), (x, y + 56)], fill=COLORS[color])
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def speech(text: str) -> bytes:
    with tempfile.NamedTemporaryFile(suffix=".wav") as wav:
        subprocess.run(["espeak-ng", "-v", "en", "-s", "150", "-w", wav.name, text], check=True)
        samples, rate = soundfile.read(wav.name, dtype="float32")
    return mp3(samples, rate)


def tones(frequencies_hz: list[float]) -> bytes:
    t = np.arange(int(0.4 * SAMPLE_RATE)) / SAMPLE_RATE
    parts = [0.4 * np.sin(2 * np.pi * f * t) for f in frequencies_hz]
    gap = np.zeros(int(0.15 * SAMPLE_RATE))
    return mp3(np.concatenate([np.concatenate([p, gap]) for p in parts]).astype(np.float32), SAMPLE_RATE)


def mp3(samples: np.ndarray, rate: int) -> bytes:
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format="MP3")
    return out.getvalue()


def main() -> None:
    rng = np.random.default_rng(7)
    rows = []
    color_names = list(COLORS)
    for index in range(24):
        shapes = [(SHAPES[int(rng.integers(0, 3))], color_names[int(rng.integers(0, 4))]) for _ in range(5)]
        kind = index % 3
        if kind == 0:  # count shapes of the spoken colour
            color = shapes[int(rng.integers(0, 5))][1]
            count = sum(1 for _, c in shapes if c == color)
            audio, audio_type, audio_text = (
                speech(f"Count the {color} shapes."),
                "speech",
                f"A voice says: count the {color} shapes.",
            )
            task, question = "Count & Quantity", "How many shapes in the picture have the colour the speaker names?"
            answer = str(count)
            options = sorted({answer, *(str(n) for n in rng.permutation(6)[:4] if str(n) != answer)}, key=int)[:4]
            if answer not in options:
                options[-1] = answer
        elif kind == 1:  # which shape has the spoken colour
            shape, color = shapes[int(rng.integers(0, 5))]
            audio, audio_type, audio_text = (
                speech(f"Find the {color} {shape}."),
                "speech",
                f"A voice says: find the {color} {shape}.",
            )
            task, question = "Object Identification & Description", "Where is the shape the speaker asks for?"
            slot = next(i for i, s in enumerate(shapes) if s == (shape, color))
            places = ["top left", "top middle", "top right", "bottom left", "bottom middle"]
            answer, options = places[slot], places[:4] if slot < 4 else places[1:]
        else:  # beeps: how many tones, compared with the shapes
            beeps = int(rng.integers(1, 5))
            audio, audio_type = tones([440.0 + 110 * i for i in range(beeps)]), "sound event"
            audio_text = f"{beeps} short beeps of rising pitch."
            task = "Plot Inference"
            question = "Is the number of beeps smaller than, equal to, or larger than the number of circles?"
            circles = sum(1 for s, _ in shapes if s == "circle")
            answer = "smaller" if beeps < circles else "equal" if beeps == circles else "larger"
            options = ["smaller", "equal", "larger", "cannot tell"]
        rows.append(
            {
                "index": index,
                "task type": task,
                "audio type": audio_type,
                "question": f"Card {index + 1}. {question}",
                "options": options,
                "answer": answer,
                "image": {"bytes": draw(shapes, rng), "path": f"{index}.png"},
                "audio": {"bytes": audio, "path": f"{index}.mp3"},
                "image content": "; ".join(f"a {c} {s}" for s, c in shapes) + ", in two rows of three slots",
                "audio content": audio_text,
            }
        )
    pq.write_table(pa.Table.from_pylist(rows), OUT)
    print(f"wrote {len(rows)} samples to {os.path.normpath(OUT)} ({os.path.getsize(OUT) // 1024} KB)")


if __name__ == "__main__":
    main()
