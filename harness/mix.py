"""Request mixes (--mix FILE): named request classes with weights, each its own prompt, output and media.

A mix file is YAML or JSON: a mapping of class name to settings. `weight` is required (a share of
the requests, relative to the other classes); the other keys are the run's flags by their
underscored names. A value is one number, or two (`[A, B]`) for a range drawn uniformly per
request. Text settings a class leaves out are the run's flags; media a class leaves out are none,
so a class says what it carries:

    text:        {weight: 50, prompt_tokens: [128, 512], max_tokens: 64}
    image:       {weight: 30, image_num: 1, image_width: [256, 1024], image_height: [256, 768]}
    image_audio: {weight: 15, image_num: [1, 2], audio_num: 1, audio_seconds: [2, 6]}
    video:       {weight: 5, video_num: 1, video_seconds: 4, video_audio: tone}

Each request's class is drawn by weight (with the run's seed: harness/load/classes.py); its record
carries the class, and every stage's figures are given per class beside the overall row.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.argparsing import BadOption
from harness.audiospec import AUDIO_CONTENTS
from harness.videospec import MAX_VIDEO_FPS, MAX_VIDEO_NUM, MAX_VIDEO_SECONDS, MAX_VIDEO_SIDE_PX, VIDEO_CONTENTS

MIX_FLAG = "--mix"
MAX_CLASSES = 16
MAX_FILE_BYTES = 1024 * 1024
RESERVED_NAMES = ("load", "probe", "all")  # the default class, --probe-rate's, the overall row's
# key -> (smallest, largest, integer?)
NUMBERS: dict[str, tuple[float, float, bool]] = {
    "prompt_tokens": (9, 1_048_576, True),
    "max_tokens": (1, 1_048_576, True),
    "image_num": (0, 64, True),
    "image_width": (1, 16384, True),
    "image_height": (1, 16384, True),
    "audio_num": (0, 16, True),
    "audio_seconds": (0.01, 600.0, False),
    "video_num": (0, MAX_VIDEO_NUM, True),
    "video_width": (2, MAX_VIDEO_SIDE_PX, True),
    "video_height": (2, MAX_VIDEO_SIDE_PX, True),
    "video_seconds": (0.05, MAX_VIDEO_SECONDS, False),
    "video_fps": (0.1, MAX_VIDEO_FPS, False),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "video_audio": AUDIO_CONTENTS,
    "video_content": VIDEO_CONTENTS,
    "audio_content": AUDIO_CONTENTS,
    "image_content": ("noise", "shapes"),
}
Value = float | str | tuple[float, float]


@dataclass(frozen=True)
class RequestClass:
    """One class of a mix: its name, its weight and its settings (number, range or choice per key)."""

    name: str
    weight: float
    settings: tuple[tuple[str, Value], ...]

    @property
    def settings_dict(self) -> dict[str, Value]:
        return dict(self.settings)


def read_mix(path: str) -> tuple[RequestClass, ...]:
    """The classes of a mix file (BadOption naming --mix, the file and the class on anything wrong)."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise BadOption(MIX_FLAG, f"{path}: larger than {MAX_FILE_BYTES} bytes")
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadOption(MIX_FLAG, f"{path}: cannot be read ({type(exc).__name__})") from None
    document = _parse(text, path)
    if not isinstance(document, dict) or not document:
        raise BadOption(MIX_FLAG, f"{path}: expected a mapping of class name to settings")
    if len(document) > MAX_CLASSES:
        raise BadOption(MIX_FLAG, f"{path}: {len(document)} classes, more than {MAX_CLASSES}")
    return tuple(_request_class(str(name), settings, path) for name, settings in document.items())


def _parse(text: str, path: str) -> Any:
    import yaml

    try:
        return json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise BadOption(
            MIX_FLAG, f"{path}: not valid {'JSON' if path.endswith('.json') else 'YAML'} ({exc})".split("\n")[0]
        ) from None


def _request_class(name: str, settings: Any, path: str) -> RequestClass:
    where = f"{path}: class {name!r}"
    if not name.replace("_", "").replace("-", "").isalnum() or len(name) > 40 or name in RESERVED_NAMES:
        raise BadOption(MIX_FLAG, f"{where}: a name of letters, digits, - and _ (not {', '.join(RESERVED_NAMES)})")
    if not isinstance(settings, dict):
        raise BadOption(MIX_FLAG, f"{where}: expected a mapping of settings")
    weight = settings.get("weight")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight < math.inf:
        raise BadOption(MIX_FLAG, f"{where}: weight must be a number above 0")
    checked: list[tuple[str, Value]] = []
    for key, value in settings.items():
        if key == "weight":
            continue
        if key in CHOICES:
            if value not in CHOICES[key]:
                raise BadOption(MIX_FLAG, f"{where}: {key} must be one of {', '.join(CHOICES[key])}")
            checked.append((key, value))
        elif key in NUMBERS:
            checked.append((key, _number(key, value, where)))
        else:
            raise BadOption(
                MIX_FLAG, f"{where}: unknown setting {key!r} (use weight, {', '.join([*NUMBERS, *CHOICES])})"
            )
    return RequestClass(name, float(weight), tuple(checked))


def _number(key: str, value: Any, where: str) -> Value:
    low, high, integer = NUMBERS[key]
    values = value if isinstance(value, list) else [value]
    if not 1 <= len(values) <= 2 or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
        raise BadOption(MIX_FLAG, f"{where}: {key} must be a number or two ([A, B])")
    if integer and any(float(v) != int(v) for v in values):
        raise BadOption(MIX_FLAG, f"{where}: {key} must be whole numbers")
    if not low <= values[0] <= values[-1] <= high:
        raise BadOption(MIX_FLAG, f"{where}: {key} {values} must be within [{low:g}, {high:g}], smallest first")
    if key in ("video_width", "video_height") and any(int(v) % 2 for v in values):
        raise BadOption(MIX_FLAG, f"{where}: {key} must be even (H.264 4:2:0)")
    return (float(values[0]), float(values[-1])) if len(values) == 2 else float(values[0])
