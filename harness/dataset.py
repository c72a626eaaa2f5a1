"""Datasets as load (--dataset): every row's messages sent as they are, their lengths from the data.

Three layouts, by the file's name:
- `.jsonl`: one chat request per line, `{"messages": [...], "max_tokens": N}` (OpenAI's messages with
  text, image_url, input_audio and video_url parts, as data URLs; `max_tokens` optional: the run's
  --max-tokens otherwise);
- `.json`: ShareGPT (a list of `{"conversations": [{"from": "human"|"gpt", "value": ...}]}`): the first
  human turn is the prompt, the reply after it sets the output length (its tokens), as vLLM's
  `benchmarks` ShareGPT sampler does;
- `.parquet`: OmniBench (m-a-p/OmniBench's layout): each question with its image and audio, as the
  accuracy pass asks it.

Rows are read and checked once per process before any payload is built: a row that cannot be sent
(not JSON, no messages, a remote or undecodable media URL, an unknown part type) is counted and named
by its line (or index) and left out; a dataset without one good row is refused before load. Each
payload's expected tokens are its messages' text through the chat template plus its media's tokens
by the same rules as the synthetic ones (harness/media_tokens.py).
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_BAD_NAMED = 5  # bad rows named one by one; the rest counted
MAX_ROW_BYTES = 64 * 1024 * 1024
DATASET_FLAG = "--dataset"


@dataclass(frozen=True)
class DatasetRow:
    """One request of the dataset: its messages (as read), output bound, and what its media cost."""

    where: str  # "line 7" or "row 3"
    messages: list[dict[str, Any]]
    max_tokens: int | None
    media_tokens: int
    images: int = 0
    audio_s: float = 0.0
    video_s: float = 0.0


@dataclass(frozen=True)
class Dataset:
    path: str
    rows: list[DatasetRow] = field(default_factory=list)
    bad: list[tuple[str, str]] = field(default_factory=list)  # (where, why)

    def bad_line(self) -> str:
        """The bad rows, named (the first few) and counted."""
        named = "; ".join(f"{where}: {why}" for where, why in self.bad[:MAX_BAD_NAMED])
        more = f"; and {len(self.bad) - MAX_BAD_NAMED} more" if len(self.bad) > MAX_BAD_NAMED else ""
        return f"{len(self.bad)} of {len(self.rows) + len(self.bad)} rows left out ({named}{more})"


class RowError(ValueError):
    """Why a row cannot be sent."""


@functools.lru_cache(maxsize=2)
def read_dataset(path: str, tokenizer_path: str | None = None) -> Dataset:
    """The dataset's good rows and its bad ones (OSError/ValueError when the file cannot be read at all)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".jsonl":
        return _read_rows(path, _jsonl_rows(path))
    if suffix == ".json":
        return _read_rows(path, _sharegpt_rows(path, tokenizer_path))
    if suffix == ".parquet":
        return _read_rows(path, _omnibench_rows(path))
    raise ValueError(f"{path}: a .jsonl (OpenAI messages), .json (ShareGPT) or .parquet (OmniBench) file")


def _read_rows(path: str, raw: Any) -> Dataset:
    dataset = Dataset(path)
    for where, row in raw:
        try:
            dataset.rows.append(_checked(where, row))
        except RowError as exc:
            dataset.bad.append((where, str(exc)))
    return dataset


def _jsonl_rows(path: str) -> Any:
    with open(path, "rb") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            if len(line) > MAX_ROW_BYTES:
                yield f"line {number}", RowError(f"longer than {MAX_ROW_BYTES} bytes")
                continue
            try:
                yield f"line {number}", json.loads(line)
            except ValueError as exc:
                yield f"line {number}", RowError(f"not JSON ({exc.__class__.__name__})")


def _sharegpt_rows(path: str, tokenizer_path: str | None) -> Any:
    from harness.tokenizer import load_tokenizer

    document = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(document, list):
        raise ValueError(f"{path}: ShareGPT is a JSON list of conversations")
    tokenizer = load_tokenizer(tokenizer_path)
    for index, item in enumerate(document):
        turns = item.get("conversations") if isinstance(item, dict) else None
        if not isinstance(turns, list) or len(turns) < 2:
            yield f"row {index}", RowError("no conversation of two turns or more")
            continue
        first, reply = turns[0], turns[1]
        if not all(isinstance(turn, dict) and isinstance(turn.get("value"), str) for turn in (first, reply)):
            yield f"row {index}", RowError("a turn without a text value")
            continue
        if first.get("from") != "human":
            yield f"row {index}", RowError(f"the first turn is from {first.get('from')!r}, not human")
            continue
        reply_tokens = len(tokenizer.encode(reply["value"], add_special_tokens=False))
        yield (
            f"row {index}",
            {"messages": [{"role": "user", "content": first["value"]}], "max_tokens": max(1, reply_tokens)},
        )


def _omnibench_rows(path: str) -> Any:
    from harness.omnibench.dataset import load_samples
    from harness.omnibench.prompt import build_messages

    for index, sample in enumerate(load_samples(path, local_only=True)):
        yield f"row {index}", {"messages": build_messages(sample, use_image=True, use_audio=True)}


def _checked(where: str, row: Any) -> DatasetRow:
    if isinstance(row, RowError):
        raise row
    if not isinstance(row, dict):
        raise RowError("not a JSON object")
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RowError("no messages")
    max_tokens = row.get("max_tokens", row.get("max_completion_tokens"))
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
        raise RowError(f"max_tokens {max_tokens!r} is not a positive integer")
    media = _Media()
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RowError("a message without a role")
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                media.add(part)
        elif content is not None and not isinstance(content, str):
            raise RowError("a message's content is neither text nor a list of parts")
    return DatasetRow(where, messages, max_tokens, media.tokens, media.images, media.audio_s, media.video_s)


@dataclass
class _Media:
    tokens: int = 0
    images: int = 0
    audio_s: float = 0.0
    video_s: float = 0.0

    def add(self, part: Any) -> None:
        from harness.media_tokens import audio_tokens, image_tokens

        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            return
        if kind == "image_url":
            from PIL import Image

            data = _data_url(_url(part, kind), kind)
            try:
                with Image.open(io.BytesIO(data)) as image:
                    self.tokens += image_tokens(image.width, image.height)
            except (OSError, ValueError) as exc:
                raise RowError(f"image_url: not an image ({exc.__class__.__name__})") from None
            self.images += 1
        elif kind == "input_audio":
            seconds = _audio_seconds(_b64((part.get("input_audio") or {}).get("data"), kind))
            self.tokens += audio_tokens(seconds)
            self.audio_s += seconds
        elif kind == "audio_url":
            seconds = _audio_seconds(_data_url(_url(part, kind), kind))
            self.tokens += audio_tokens(seconds)
            self.audio_s += seconds
        elif kind == "video_url":
            from harness.videofile import VideoError, read_video

            try:
                facts = read_video(_data_url(_url(part, kind), kind))
            except VideoError as exc:
                raise RowError(f"video_url: {exc}") from None
            self.tokens += facts.tokens(False)
            self.video_s += facts.seconds
        else:
            raise RowError(f"unknown part type {kind!r}")


def _url(part: dict[str, Any], kind: str) -> str:
    holder = part.get(kind)
    url = holder.get("url") if isinstance(holder, dict) else holder
    if not isinstance(url, str):
        raise RowError(f"{kind}: no url")
    return url


def _data_url(url: str, kind: str) -> bytes:
    if not url.startswith("data:") or ";base64," not in url:
        raise RowError(f"{kind}: not a base64 data URL (remote media are not fetched: their tokens are unknown)")
    return _b64(url.split(",", 1)[1], kind)


def _b64(encoded: Any, kind: str) -> bytes:
    if not isinstance(encoded, str):
        raise RowError(f"{kind}: no data")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise RowError(f"{kind}: invalid base64") from None


def _audio_seconds(data: bytes) -> float:
    import soundfile

    try:
        info = soundfile.info(io.BytesIO(data))
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise RowError(f"audio: cannot decode ({exc.__class__.__name__})") from None
    return info.frames / info.samplerate
