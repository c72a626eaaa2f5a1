"""Ready-to-send request bodies, all built before users spawn.

Nothing here runs on the hot path: tokenizing, image encoding, base64 and JSON happen
while the pool is built; a user then only takes the next body's bytes. Image encoding
runs in native threads (Pillow and numpy release the GIL), so a worker building its pool
keeps answering the master's heartbeats.
"""

from __future__ import annotations

from gevent.threadpool import ThreadPoolExecutor

import base64
import dataclasses
import gc
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from harness.dataset import read_dataset
from harness.load.audio import decoded_seconds, encode_audio, make_audio
from harness.load.classes import class_spec, draw_classes
from harness.load.images import MIME_TYPES, encode_image, make_image
from harness.load.prompts import Prompt, PromptBuilder
from harness.load.video import make_video, sound_track
from harness.media_tokens import audio_tokens, image_tokens
from harness.mediafiles import read_audio_dir, read_image_dir, read_video_dir
from harness.replay import replay_bodies, replay_stages
from harness.tokenizer import ChatRenderer, count_tokens_batch
from harness.trace import MOONCAKE_BLOCK_TOKENS, read_trace
from harness.videofile import read_video
from harness.videospec import VIDEO_MIME_TYPE, VideoSpec

if TYPE_CHECKING:
    from harness.options import PayloadSpec
    from harness.tokenizer import Tokenizer

# Native threads for image encoding; at least two so one core's worth runs while the
# calling greenlet waits.
IMAGE_THREADS = max(2, os.cpu_count() or 1)
URL_PLACEHOLDER = "\x00omniload-image-%d\x00"  # cannot occur in a prompt (JSON escapes NUL as \u0000)
AUDIO_PLACEHOLDER = "\x00omniload-audio-%d\x00"
VIDEO_PLACEHOLDER = "\x00omniload-video-%d\x00"
TRACE_TAIL_TOKENS = 24  # a trace's prompt keeps at least this much after its shared blocks (template included)
MIX_SEED_STRIDE = 1_000_003  # a mix's groups build under seed·stride + group: apart from every other seed


@dataclass(frozen=True)
class Payload:
    """One ready-to-send request body and what is known of its prompt; built before load."""

    body: bytes  # the JSON request body, ready to write
    text: str  # the user turn's text (for checking a sample against the server's /tokenize)
    expected_text_tokens: int  # that text through the chat template
    image_bytes: int  # encoded image file sizes, summed
    expected_media_tokens: int = 0  # its images', clips' and videos' prompt tokens (harness/media_tokens.py)
    expected_video_tokens: int = 0  # of which its videos' (their sound tracks included when heard)
    images: int = 0
    audio_s: float = 0.0  # its clips' length, summed
    video_s: float = 0.0  # its videos' length, summed
    request_class: str = "load"  # its --mix class
    max_tokens: int | None = None  # the output bounds it asks for (None: the run's)
    min_tokens: int | None = None  # the fewest output tokens the server was told to produce
    # --multi-turn: the user messages of its conversation's later turns (JSON objects, ready to splice) and
    # each one's text tokens; history_tokens is set on a later turn (its prompt is the server's to count)
    next_turns: tuple[bytes, ...] = ()
    next_turn_tokens: tuple[int, ...] = ()
    history_tokens: int = 0
    prefix_group: int | None = None  # --prefix-groups: which shared prefix it starts with (0: the most popular)

    @property
    def turns(self) -> int:
        return 1 + len(self.next_turns)


@dataclass(frozen=True)
class VideoPart:
    """A video as sent: the file, its data URL MIME type, its length and the tokens it costs."""

    file_bytes: bytes
    mime_type: str
    seconds: float
    tokens: int


class PayloadSource(Protocol):
    """Where a load generator's users take their payloads: a fixed pool (a sweep's budget, or
    --reuse-payloads) or a factory that keeps building fresh ones (harness/load/factory.py).
    The counts go into summary.json's `payloads`."""

    reused: int  # requests that were sent a payload already sent
    built_during_load: int  # fresh payloads built while the run went on
    waits: int  # takes that found none ready
    wait_s: float  # seconds those waited

    def take(self) -> Payload: ...


class PayloadPool:
    """Hands out payloads in order; after the last one it starts over and counts reuses."""

    def __init__(self, payloads: list[Payload]) -> None:
        if not payloads:
            raise ValueError("an empty payload pool")
        self.payloads = payloads
        self._next_index = 0
        self.reused = 0
        self.built_during_load = 0  # all built before load
        self.waits = 0  # never: they are all there
        self.wait_s = 0.0

    def take(self) -> Payload:
        index = self._next_index
        self._next_index += 1
        if index >= len(self.payloads):
            self.reused += 1
        return self.payloads[index % len(self.payloads)]


def request_body(
    spec: PayloadSpec,
    model: str,
    prompt_text: str,
    image_files: list[bytes],
    audio_files: list[bytes] | None = None,
    image_mimes: list[str] | None = None,
    audio_formats: list[str] | None = None,
    videos: list[VideoPart] | None = None,
) -> bytes:
    """The chat completion request as JSON bytes, exactly as it is sent; images and videos as data URLs
    (image_url, video_url), clips as input_audio.

    `image_mimes`/`audio_formats`: each file's own (the user's files); default: the spec's encoding and format.
    """
    audio_files = audio_files or []
    videos = videos or []
    image_mimes = image_mimes or [MIME_TYPES[spec.image_encoding]] * len(image_files)
    audio_formats = audio_formats or [spec.audio_format] * len(audio_files)
    content: str | list[dict[str, Any]] = prompt_text
    if image_files or audio_files or videos:
        # Placeholders, spliced with the base64 after serializing: base64 is JSON-safe as it
        # is, and scanning (and copying) a megabyte of it for escapes costs more than the rest.
        content = [{"type": "text", "text": prompt_text}]
        content += [
            {"type": "image_url", "image_url": {"url": URL_PLACEHOLDER % index}} for index in range(len(image_files))
        ]
        content += [
            {"type": "input_audio", "input_audio": {"data": AUDIO_PLACEHOLDER % index, "format": audio_formats[index]}}
            for index in range(len(audio_files))
        ]
        content += [
            {"type": "video_url", "video_url": {"url": VIDEO_PLACEHOLDER % index}} for index in range(len(videos))
        ]
    body = {"model": model, "messages": [{"role": "user", "content": content}], **spec.body_fields()}
    serialized = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if not image_files and not audio_files and not videos:
        return serialized
    splices = [
        (URL_PLACEHOLDER % index, f'"data:{image_mimes[index]};base64,'.encode("ascii"), file)
        for index, file in enumerate(image_files)
    ]
    splices += [(AUDIO_PLACEHOLDER % index, b'"', file) for index, file in enumerate(audio_files)]
    splices += [
        (VIDEO_PLACEHOLDER % index, f'"data:{video.mime_type};base64,'.encode("ascii"), video.file_bytes)
        for index, video in enumerate(videos)
    ]
    parts: list[bytes] = []
    for placeholder, prefix, file_bytes in splices:  # in the order they appear in the body
        head, serialized = serialized.split(json.dumps(placeholder).encode(), 1)  # NUL escaped
        parts += [head, prefix, base64.b64encode(file_bytes), b'"']
    return b"".join([*parts, serialized])


def build_payloads(
    spec: PayloadSpec, model: str, tokenizer: Tokenizer, count: int, seed: int, prefix_seed: int
) -> list[Payload]:
    """`count` payloads: exact-length prompts (one shared prefix per `prefix_seed`) and images.

    Prompt lengths are drawn uniformly from [min, max] prompt tokens with `seed`.
    """
    with collector_paused():
        if spec.replay:
            payloads = _build_replay(spec.replay)
        elif spec.trace:
            payloads = _build_trace(spec, model, tokenizer, count)
        elif spec.dataset:
            payloads = _build_dataset(spec, model, tokenizer, count, seed)
        elif spec.mix:
            payloads = _build_mix(spec, model, tokenizer, count, seed, prefix_seed)
        elif spec.prefix_groups:
            payloads = _build_prefix_groups(spec, model, tokenizer, count, seed, prefix_seed)
        else:
            payloads = _build(spec, model, tokenizer, count, seed, prefix_seed)
        if spec.conversation.enabled:
            payloads = _with_next_turns(spec, tokenizer, payloads, seed)
        return payloads


def _build_dataset(spec: PayloadSpec, model: str, tokenizer: Tokenizer, count: int, seed: int) -> list[Payload]:
    """--dataset: the rows in file order, from a point the seed picks (each worker starts elsewhere), each row's
    messages as they are, its own max_tokens (exact when the run asks exact lengths)."""
    rows = read_dataset(spec.dataset or "", spec.tokenizer_path).rows
    chosen = [rows[(seed + index) % len(rows)] for index in range(count)]
    renderer = ChatRenderer(tokenizer)
    texts = [renderer.render([_text_only(message) for message in row.messages]) for row in chosen]
    exact = spec.min_tokens == spec.max_tokens and spec.min_tokens > 0
    payloads = []
    for row, text, text_tokens in zip(chosen, texts, count_tokens_batch(tokenizer, texts), strict=True):
        row_spec = spec
        if row.max_tokens is not None:
            row_spec = dataclasses.replace(
                spec,
                max_tokens=row.max_tokens,
                min_tokens=row.max_tokens if exact else min(spec.min_tokens, row.max_tokens),
            )
        body = {"model": model, "messages": row.messages, **row_spec.body_fields()}
        payloads.append(
            Payload(
                json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                text,
                text_tokens,
                0,
                row.media_tokens,
                images=row.images,
                audio_s=row.audio_s,
                video_s=row.video_s,
                max_tokens=row_spec.max_tokens,
                min_tokens=row_spec.enforced_min_tokens,
            )
        )
    return payloads


def _build_replay(run_dir: str) -> list[Payload]:
    """--replay: the recorded run's kept bodies, stage by stage in send order, with what its records expected
    (each body's own output bounds read from it)."""
    stages = replay_stages(run_dir)
    records = [record for stage in stages for record in stage.records]
    payloads = []
    for record, body in zip(records, replay_bodies(run_dir, stages), strict=True):
        fields = json.loads(body)
        max_tokens = fields.get("max_tokens") or fields.get("max_completion_tokens")
        payloads.append(
            Payload(
                body,
                "",
                record.expected_text_tokens,
                0,
                record.expected_media_tokens or 0,
                record.expected_video_tokens,
                record.images,
                record.audio_s,
                record.video_s,
                record.request_class,
                max_tokens if isinstance(max_tokens, int) else None,
                int(fields.get("min_tokens") or 0),
                history_tokens=1 if record.turn > 1 else 0,
                prefix_group=record.prefix_group,
            )
        )
    return payloads


def _build_trace(spec: PayloadSpec, model: str, tokenizer: Tokenizer, count: int) -> list[Payload]:
    """--trace: payload i is the trace's row i (every process builds the same, in order): a prompt of exactly its
    input tokens, text only, whose leading 512-token blocks are made from its hash ids (equal ids, equal text:
    shared blocks for a prefix cache), asking for exactly its output tokens where the server allows it."""
    rows = read_trace(spec.trace or "")
    blocks: dict[int, tuple[str, int]] = {}
    exact = spec.min_tokens == spec.max_tokens and spec.min_tokens > 0
    text_spec = dataclasses.replace(spec, image_num=0, audio_num=0, video=VideoSpec(), image_dir=None, audio_dir=None)
    payloads = []
    for index in range(count):
        row = rows[index % len(rows)]
        head_blocks = min(len(row.hash_ids), max(0, (row.input_tokens - TRACE_TAIL_TOKENS) // MOONCAKE_BLOCK_TOKENS))
        for hash_id in row.hash_ids[:head_blocks]:
            if hash_id not in blocks:
                block = PromptBuilder(tokenizer, MOONCAKE_BLOCK_TOKENS, hash_id)
                blocks[hash_id] = (block.prefix, block.prefix_tokens)
        builder = PromptBuilder(tokenizer, 0, 0)
        builder.prefix = "".join(blocks[hash_id][0] for hash_id in row.hash_ids[:head_blocks])
        builder.prefix_tokens = head_blocks * MOONCAKE_BLOCK_TOKENS
        prompt = builder.build([row.input_tokens - builder.prefix_tokens], np.random.default_rng([index, 9]))[0]
        row_spec = dataclasses.replace(
            text_spec, max_tokens=row.output_tokens, min_tokens=row.output_tokens if exact else 0
        )
        payloads.append(
            Payload(
                request_body(row_spec, model, prompt.text, []),
                prompt.text,
                prompt.text_tokens,
                0,
                max_tokens=row_spec.max_tokens,
                min_tokens=row_spec.enforced_min_tokens,
            )
        )
    return payloads


def _text_only(message: dict[str, Any]) -> dict[str, str]:
    """A message with its text parts joined, as a server renders its text through the chat template."""
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(str(part.get("text", "")) for part in content if part.get("type") == "text")
    return {"role": message["role"], "content": content or ""}


def _build_prefix_groups(
    spec: PayloadSpec, model: str, tokenizer: Tokenizer, count: int, seed: int, prefix_seed: int
) -> list[Payload]:
    """--prefix-groups: each payload takes one of the groups' prefixes by popularity (zipf: the k-th 1/k^s as
    often; uniform); a group's payloads are built together under its own prefix (and, with --prefix-image,
    one image set for them all)."""
    ranks = np.arange(1, spec.prefix_groups + 1, dtype=np.float64)
    weights = ranks**-spec.prefix_zipf_exponent if spec.prefix_distribution == "zipf" else np.ones_like(ranks)
    rng = np.random.default_rng([seed, 8])
    drawn = rng.choice(spec.prefix_groups, size=count, p=weights / weights.sum()).tolist()
    members: dict[int, list[int]] = {}
    for index, group in enumerate(drawn):
        members.setdefault(group, []).append(index)
    payloads: list[Payload | None] = [None] * count
    shared = dataclasses.replace(spec, prefix_groups=0, unique_images=spec.unique_images and not spec.prefix_image)
    for group, indices in sorted(members.items()):
        built = _build(
            shared,
            model,
            tokenizer,
            len(indices),
            seed * MIX_SEED_STRIDE + group,
            prefix_seed * MIX_SEED_STRIDE + group,
        )
        for index, payload in zip(indices, built, strict=True):
            payloads[index] = dataclasses.replace(payload, prefix_group=group)
    return [payload for payload in payloads if payload is not None]


def _with_next_turns(spec: PayloadSpec, tokenizer: Tokenizer, payloads: list[Payload], seed: int) -> list[Payload]:
    """Each conversation's later user messages: its turns drawn in [min, max], each a fresh prompt of the
    run's length range (text only: media come with the first turn)."""
    rng = np.random.default_rng([seed, 7])
    turns = rng.integers(spec.conversation.min_turns, spec.conversation.max_turns + 1, len(payloads)).tolist()
    later_count = sum(turns) - len(turns)
    fixed = spec.conversation.turn_prompt_tokens
    lengths = (
        [fixed] * later_count
        if fixed
        else rng.integers(spec.min_prompt_tokens, spec.max_prompt_tokens + 1, later_count).tolist()
    )
    prompts = iter(PromptBuilder(tokenizer, 0, seed).build(lengths, rng))
    with_turns = []
    for payload, count in zip(payloads, turns, strict=True):
        later = [next(prompts) for _ in range(count - 1)]
        with_turns.append(
            dataclasses.replace(
                payload,
                next_turns=tuple(
                    json.dumps({"role": "user", "content": p.text}, ensure_ascii=False, separators=(",", ":")).encode()
                    for p in later
                ),
                next_turn_tokens=tuple(p.text_tokens for p in later),
            )
        )
    return with_turns


def _build_mix(
    spec: PayloadSpec, model: str, tokenizer: Tokenizer, count: int, seed: int, prefix_seed: int
) -> list[Payload]:
    """--mix: each payload's class drawn by weight, its settings drawn in the class's ranges; payloads of one
    class and one draw are built together, each under its own seed (so no two share media)."""
    rng = np.random.default_rng([seed, 5])
    groups: dict[tuple[int, str], tuple[PayloadSpec, list[int]]] = {}
    for index, class_index in enumerate(draw_classes(spec.mix, count, rng)):
        drawn = class_spec(spec, spec.mix[class_index], rng)
        groups.setdefault((class_index, repr(drawn)), (drawn, []))[1].append(index)
    payloads: list[Payload | None] = [None] * count
    for group_number, ((class_index, _), (drawn, indices)) in enumerate(groups.items()):
        name = spec.mix[class_index].name
        built = _build(drawn, model, tokenizer, len(indices), seed * MIX_SEED_STRIDE + group_number, prefix_seed)
        for index, payload in zip(indices, built, strict=True):
            payloads[index] = dataclasses.replace(payload, request_class=name)
    return [payload for payload in payloads if payload is not None]


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while building: the build makes no cycles, and a full
    pass over the tokenizer's millions of objects costs more than a second per thousand payloads."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build(
    spec: PayloadSpec, model: str, tokenizer: Tokenizer, count: int, seed: int, prefix_seed: int
) -> list[Payload]:
    rng = np.random.default_rng([seed, 1])
    lengths = rng.integers(spec.min_prompt_tokens, spec.max_prompt_tokens + 1, count).tolist()
    prompts = PromptBuilder(tokenizer, spec.prefix_tokens, prefix_seed).build(lengths, rng)
    videos = _videos(spec, count, seed)
    if spec.image_dir or spec.audio_dir:
        return _build_from_files(spec, model, prompts, seed, videos)
    images = _image_files(spec, count, seed)
    clips = _audio_files(spec, count, seed)
    image_cost = spec.image_num * image_tokens(spec.image_width_px, spec.image_height_px) if spec.image_num else 0
    payloads = []
    for index, prompt in enumerate(prompts):
        files = images[index] if spec.unique_images else images[0]
        audio = [file for file, _ in clips[index]]
        payloads.append(
            _payload(
                spec,
                request_body(spec, model, prompt.text, files, audio, videos=videos[index]),
                prompt,
                files,
                image_cost + sum(audio_tokens(seconds) for _, seconds in clips[index]),
                sum(seconds for _, seconds in clips[index]),
                videos[index],
            )
        )
    return payloads


def _payload(
    spec: PayloadSpec,
    body: bytes,
    prompt: Prompt,
    image_files: list[bytes],
    image_audio_tokens: int,
    audio_s: float,
    videos: list[VideoPart],
) -> Payload:
    video_tokens = sum(video.tokens for video in videos)
    return Payload(
        body,
        prompt.text,
        prompt.text_tokens,
        sum(len(file_bytes) for file_bytes in image_files),
        image_audio_tokens + video_tokens,
        video_tokens,
        len(image_files),
        audio_s,
        sum(video.seconds for video in videos),
        max_tokens=spec.max_tokens,
        min_tokens=spec.enforced_min_tokens,
    )


def _build_from_files(
    spec: PayloadSpec, model: str, prompts: list[Prompt], seed: int, videos: list[list[VideoPart]]
) -> list[Payload]:
    """Payloads whose media are the user's files (--image-dir, --audio-dir), taken in turn from a point the
    seed picks (each worker starts elsewhere); synthetic media where no directory was given."""
    images = read_image_dir(spec.image_dir) if spec.image_dir else []
    clips = read_audio_dir(spec.audio_dir) if spec.audio_dir else []
    synthetic_images = [] if images or not spec.image_num else _image_files(spec, len(prompts), seed)
    synthetic_clips = [] if clips or not spec.audio_num else _audio_files(spec, len(prompts), seed)
    payloads = []
    for index, prompt in enumerate(prompts):
        chosen = (
            [images[(seed + index * spec.image_num + k) % len(images)] for k in range(spec.image_num)] if images else []
        )
        heard = (
            [clips[(seed + index * spec.audio_num + k) % len(clips)] for k in range(spec.audio_num)] if clips else []
        )
        image_files = [file.file_bytes for file in chosen] or (
            synthetic_images[index if spec.unique_images else 0] if synthetic_images else []
        )
        audio = [(file.file_bytes, file.kind, file.tokens, file.seconds) for file in heard] or [
            (file, spec.audio_format, audio_tokens(seconds), seconds)
            for file, seconds in (synthetic_clips[index] if synthetic_clips else [])
        ]
        image_cost = (
            sum(file.tokens for file in chosen)
            if chosen
            else (len(image_files) * image_tokens(spec.image_width_px, spec.image_height_px))
        )
        mimes = [file.kind for file in chosen] or None
        body = request_body(
            spec,
            model,
            prompt.text,
            image_files,
            [clip[0] for clip in audio],
            mimes,
            [clip[1] for clip in audio] or None,
            videos[index],
        )
        payloads.append(
            _payload(
                spec,
                body,
                prompt,
                image_files,
                image_cost + sum(clip[2] for clip in audio),
                sum(clip[3] for clip in audio),
                videos[index],
            )
        )
    return payloads


def _videos(spec: PayloadSpec, count: int, seed: int) -> list[list[VideoPart]]:
    """Per payload, its videos: the user's (--video-dir, taken in turn from where the seed points) or fresh
    synthetic ones, each read back as the server reads it for its tokens (harness/videofile.py)."""
    video = spec.video
    if video.num == 0:
        return [[] for _ in range(count)]
    hear = video.audio is not None
    if video.directory:
        files = read_video_dir(video.directory, hear)
        parts = [
            VideoPart(file.file_bytes, file.mime_type, file.facts.seconds, file.facts.tokens(hear)) for file in files
        ]
        return [
            [parts[(seed + index * video.num + k) % len(parts)] for k in range(video.num)] for index in range(count)
        ]

    clips = range(count * video.num)
    tracks = [  # made here, not in the threads: speech starts espeak-ng
        sound_track(video.seconds, video.fps, video.audio, np.random.default_rng([seed, 6, index]))
        if video.audio
        else None
        for index in clips
    ]

    def one(index: int) -> VideoPart:
        rng = np.random.default_rng([seed, 4, index])
        file_bytes = make_video(
            video.width_px, video.height_px, video.seconds, video.fps, video.content, rng, tracks[index]
        )
        facts = read_video(file_bytes)
        return VideoPart(file_bytes, VIDEO_MIME_TYPE, facts.seconds, facts.tokens(hear))

    with ThreadPoolExecutor(max_workers=IMAGE_THREADS) as executor:
        parts = list(executor.map(one, clips))
    return [parts[index * video.num : (index + 1) * video.num] for index in range(count)]


def _audio_files(spec: PayloadSpec, count: int, seed: int) -> list[list[tuple[bytes, float]]]:
    """Per payload, its encoded clips and each one's length as a decoder reads it (s)."""
    if spec.audio_num == 0:
        return [[] for _ in range(count)]
    rng = np.random.default_rng([seed, 3])
    clips = []
    for _ in range(count):
        files = []
        for _ in range(spec.audio_num):
            samples = make_audio(float(rng.uniform(*spec.audio_seconds)), spec.audio_content, rng)
            file_bytes = encode_audio(samples, spec.audio_format)
            files.append((file_bytes, decoded_seconds(file_bytes)))
        clips.append(files)
    return clips


def _image_files(spec: PayloadSpec, count: int, seed: int) -> list[list[bytes]]:
    """Per payload, its encoded image files (one set in total when images are shared)."""
    if spec.image_num == 0:
        return [[] for _ in range(count)]
    sets = count if spec.unique_images else 1

    def one(index: int) -> bytes:
        image = make_image(
            spec.image_width_px,
            spec.image_height_px,
            spec.image_mode,
            spec.image_content,
            np.random.default_rng([seed, 2, index]),
        )
        return encode_image(image, spec.image_encoding, spec.image_content)

    with ThreadPoolExecutor(max_workers=IMAGE_THREADS) as executor:
        files = list(executor.map(one, range(sets * spec.image_num)))
    return [files[i * spec.image_num : (i + 1) * spec.image_num] for i in range(sets)]
