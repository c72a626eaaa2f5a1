"""Output text made of real vocabulary tokens, deterministic under a seed.

Only tokens that are a space plus 2–10 lowercase letters are used, so the text reads as
words, is plain ASCII, and re-encodes to the same number of tokens.
"""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.tokenizer import Tokenizer

# Byte-level BPE spells a leading space as "Ġ".
WORD_TOKEN = re.compile(r"Ġ[a-z]{2,10}")


class OutputVocabulary:
    """The pool of word tokens output is drawn from."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        vocab = tokenizer.get_vocab()
        word_ids = sorted(token_id for token, token_id in vocab.items() if WORD_TOKEN.fullmatch(token))
        id_to_token = {token_id: token for token, token_id in vocab.items()}
        self.words: list[str] = [" " + id_to_token[token_id][1:] for token_id in word_ids]

    def sample(self, tokens: int, seed: int) -> list[str]:
        """`tokens` word pieces; the same seed gives the same words."""
        rng = random.Random(seed)
        return rng.choices(self.words, k=tokens)
