"""Prompts of exactly N tokens, cut from real text and proven by re-encoding.

N counts the user turn rendered with the model's chat template (evalscope's convention):
for Qwen3, `<|im_start|>user\\n` + text + `<|im_end|>\\n<|im_start|>assistant\\n`, so a
1024-token prompt holds 1016 tokens of text. A shared prefix of P tokens comes on top.
Real text matters: decoding random token ids and re-encoding them drifts (100 random
ids came back as 107 tokens), real sentences cut at a token boundary do not.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from harness.tokenizer import ChatRenderer, count_tokens_batch, render_chat

if TYPE_CHECKING:
    from harness.tokenizer import Tokenizer

CORPUS_RESOURCE = "corpus.txt"
# Characters of candidate text per wanted token: the corpus averages 5.1, so this leaves room.
CHARS_PER_TOKEN_HEADROOM = 6.5
# Rounds of re-cutting a prompt whose re-encoded length missed its target.
MAX_FIT_ROUNDS = 8


class PromptLengthError(ValueError):
    """A prompt length the template cannot reach (shorter than its own tokens)."""


@dataclass(frozen=True)
class Prompt:
    """One prompt's text and its exact token count through the chat template."""

    text: str  # the user turn's text, shared prefix included
    text_tokens: int  # tokens of that text rendered through the chat template


@functools.lru_cache(maxsize=1)
def corpus_sentences() -> tuple[str, ...]:
    """The bundled English prose (original text written for omniload), one sentence each."""
    text = resources.files("harness.data").joinpath(CORPUS_RESOURCE).read_text(encoding="utf-8")
    sentences: list[str] = []
    for paragraph in text.split("\n"):
        for sentence in paragraph.replace(". ", ".\n").split("\n"):
            if sentence.strip():
                sentences.append(sentence.strip())
    return tuple(sentences)


def template_tokens(tokenizer: Tokenizer) -> int:
    """Tokens the chat template adds around an empty user turn."""
    return count_tokens_batch(tokenizer, [render_chat(tokenizer, [{"role": "user", "content": ""}])])[0]


class PromptBuilder:
    """Builds prompts of exact rendered token counts; one shared prefix per builder."""

    def __init__(self, tokenizer: Tokenizer, prefix_tokens: int, seed: int) -> None:
        self.tokenizer = tokenizer
        self.overhead_tokens = template_tokens(tokenizer)
        self.renderer = ChatRenderer(tokenizer)
        self.prefix_tokens = prefix_tokens
        self.prefix = ""
        if prefix_tokens:
            tail = _shuffled_text(int(prefix_tokens * CHARS_PER_TOKEN_HEADROOM), np.random.default_rng([seed, 0]))
            self.prefix = self._fit([tail], [prefix_tokens], head="", render=False)[0]

    def build(self, prompt_tokens: list[int], rng: np.random.Generator) -> list[Prompt]:
        """One prompt per entry: `prefix_tokens` + entry tokens once rendered, each different."""
        for tokens in prompt_tokens:
            if tokens <= self.overhead_tokens:
                raise PromptLengthError(
                    f"{tokens} tokens leave no room for text: the chat template alone takes {self.overhead_tokens}"
                )
        lead = " " if self.prefix else ""
        tails = [lead + _shuffled_text(int(tokens * CHARS_PER_TOKEN_HEADROOM), rng) for tokens in prompt_tokens]
        targets = [self.prefix_tokens + tokens for tokens in prompt_tokens]
        texts = self._fit(tails, targets, head=self.prefix, render=True)
        return [Prompt(text, target) for text, target in zip(texts, targets, strict=False)]

    def _fit(self, tails: list[str], targets: list[int], head: str, render: bool) -> list[str]:
        """head + a cut of each tail, so that each (rendered, if asked) counts its target.

        The first cut comes from the tail's own token offsets; a cut that re-encodes to a
        different count (a word split at the boundary) moves by the difference and retries.
        """
        offsets = [
            encoding.offsets
            for encoding in self.tokenizer.backend_tokenizer.encode_batch(tails, add_special_tokens=False)
        ]
        fixed_tokens = (self.overhead_tokens if render else 0) + (self.prefix_tokens if head else 0)
        cuts = [target - fixed_tokens for target in targets]
        texts = [""] * len(tails)
        pending = list(range(len(tails)))
        for _ in range(MAX_FIT_ROUNDS):
            for index in pending:
                cut = min(max(cuts[index], 1), len(offsets[index]))
                texts[index] = head + tails[index][: offsets[index][cut - 1][1]]
            candidates = [self._rendered(texts[index]) if render else texts[index] for index in pending]
            missed = []
            for index, count in zip(pending, count_tokens_batch(self.tokenizer, candidates), strict=False):
                if count != targets[index]:
                    cuts[index] += targets[index] - count
                    missed.append(index)
            pending = missed
            if not pending:
                return texts
        raise PromptLengthError(f"could not fit {len(pending)} prompts to their exact length")

    def _rendered(self, text: str) -> str:
        return self.renderer.render_user(text)


def _shuffled_text(min_chars: int, rng: np.random.Generator) -> str:
    """Corpus sentences in a seeded random order, repeated as needed, at least min_chars long."""
    sentences = corpus_sentences()
    parts: list[str] = []
    length = 0
    while length < min_chars:
        for index in rng.permutation(len(sentences)):
            parts.append(sentences[index])
            length += len(sentences[index]) + 1
            if length >= min_chars:
                break
    return " ".join(parts)
