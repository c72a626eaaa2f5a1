"""A --mix's classes drawn per request: which class, and each ranged setting's value (harness/mix.py reads
the file)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.mix import NUMBERS, RequestClass, Value

if TYPE_CHECKING:
    from harness.options import PayloadSpec


def draw_classes(classes: tuple[RequestClass, ...], count: int, rng: np.random.Generator) -> list[int]:
    """Each of `count` requests' class index, drawn by weight."""
    weights = np.array([c.weight for c in classes])
    return rng.choice(len(classes), size=count, p=weights / weights.sum()).tolist()


def class_spec(base: PayloadSpec, request_class: RequestClass, rng: np.random.Generator) -> PayloadSpec:
    """The run's spec with one request's draw of a class's settings (media none unless the class sets them)."""
    drawn = {key: _draw(key, value, rng) for key, value in request_class.settings}
    changes: dict[str, Any] = {"mix": (), "image_num": 0, "audio_num": 0, "image_dir": None, "audio_dir": None}
    if "prompt_tokens" in request_class.settings_dict:
        low, high = _bounds(request_class.settings_dict["prompt_tokens"])
        changes.update(min_prompt_tokens=int(low), max_prompt_tokens=int(high))
    if "max_tokens" in drawn:
        changes["max_tokens"] = int(drawn["max_tokens"])
        exact = base.min_tokens == base.max_tokens and base.min_tokens > 0
        changes["min_tokens"] = int(drawn["max_tokens"]) if exact else min(base.min_tokens, int(drawn["max_tokens"]))
    for key in ("image_num", "image_width", "image_height", "audio_num"):
        if key in drawn:
            changes[key.replace("width", "width_px").replace("height", "height_px")] = int(drawn[key])
    if "audio_seconds" in request_class.settings_dict:
        changes["audio_seconds"] = _bounds(request_class.settings_dict["audio_seconds"])
    for key in ("image_content", "audio_content"):
        if key in drawn:
            changes[key] = drawn[key]
    video: dict[str, Any] = {"num": 0, "directory": None, "audio": None}
    for key in (
        "video_num",
        "video_width",
        "video_height",
        "video_seconds",
        "video_fps",
        "video_content",
        "video_audio",
    ):
        if key in drawn:
            field = key.removeprefix("video_").replace("width", "width_px").replace("height", "height_px")
            video[field] = int(drawn[key]) if key in ("video_num", "video_width", "video_height") else drawn[key]
    changes["video"] = dataclasses.replace(base.video, **video)
    return dataclasses.replace(base, **changes)


def _bounds(value: Value) -> tuple[float, float]:
    if isinstance(value, tuple):
        return value
    assert not isinstance(value, str)
    return (value, value)


def _draw(key: str, value: Value, rng: np.random.Generator) -> Any:
    if isinstance(value, str) or not isinstance(value, tuple):
        return value
    low, high = value
    if NUMBERS[key][2]:
        step = 2 if key in ("video_width", "video_height") else 1
        return int(low) + step * int(rng.integers(0, (int(high) - int(low)) // step + 1))
    return float(rng.uniform(low, high))
