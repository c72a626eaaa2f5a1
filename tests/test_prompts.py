"""Prompts of exactly N templated tokens, proven by re-encoding with the real chat template."""

from __future__ import annotations

import numpy as np
import pytest

from harness.load.prompts import PromptBuilder, PromptLengthError, template_tokens
from harness.tokenizer import count_tokens_batch, load_tokenizer, render_chat


def rendered_counts(texts: list[str]) -> list[int]:
    tokenizer = load_tokenizer()
    return count_tokens_batch(tokenizer, [render_chat(tokenizer, [{"role": "user", "content": t}]) for t in texts])


@pytest.mark.parametrize("prefix_tokens", [0, 100])
def test_exact_lengths(prefix_tokens: int) -> None:
    lengths = [9, 16, 100, 1024, 1024, 4000]
    prompts = PromptBuilder(load_tokenizer(), prefix_tokens, seed=1).build(lengths, np.random.default_rng(2))
    assert [p.text_tokens for p in prompts] == [prefix_tokens + n for n in lengths]
    assert rendered_counts([p.text for p in prompts]) == [prefix_tokens + n for n in lengths]
    assert len({p.text for p in prompts}) == len(prompts)  # the two 1024s differ too


def test_shared_prefix_is_exactly_its_tokens_and_shared() -> None:
    builder = PromptBuilder(load_tokenizer(), 64, seed=3)
    assert count_tokens_batch(load_tokenizer(), [builder.prefix]) == [64]
    prompts = builder.build([200, 300], np.random.default_rng(4))
    assert all(p.text.startswith(builder.prefix + " ") for p in prompts)


def test_qwen3_template_takes_8_tokens_and_shorter_prompts_are_refused() -> None:
    tokenizer = load_tokenizer()
    assert template_tokens(tokenizer) == 8
    with pytest.raises(PromptLengthError, match="chat template alone takes 8"):
        PromptBuilder(tokenizer, 0, seed=0).build([8], np.random.default_rng(0))


def test_same_seed_same_prompts() -> None:
    def build() -> list[str]:
        return [p.text for p in PromptBuilder(load_tokenizer(), 0, 5).build([50, 60], np.random.default_rng(6))]

    assert build() == build()
