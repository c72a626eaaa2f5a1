"""vLLM's automatic prefix caching, as far as a load test sees it: which prompt tokens a request finds cached.

vLLM (v1, prefix caching on by default) splits a prompt into blocks of 16 tokens and gives
each full block a hash chained on the previous block's hash, its token ids and the
multimodal items whose placeholders fall in it (`hash_block_tokens` and
`_gen_mm_extra_hash_keys` in `vllm/v1/core/kv_cache_utils.py`). A new request reuses the
longest run of leading blocks whose hashes are cached, but always computes at least its
last token (`get_computed_blocks` in `vllm/v1/core/kv_cache_manager.py`: the hit is capped
at `num_tokens - 1`, in whole blocks). Freed blocks keep their hashes until the block is
reused, least recently used first (`FreeKVCacheBlockQueue`). Here:

- a prompt is the messages in order, each as its text's token ids (its role header and
  content, tokenized alone: identical history tokenizes identically) followed by its media
  items' placeholder tokens, each media token standing for (the item's digest, its offset);
- blocks enter the cache when the request's first token is out (its prefill done), and the
  pool holds `--kv-cache-tokens / 16` blocks, evicting the least recently used: running
  requests' blocks are not pinned as vLLM pins them (a simplification the tests do not reach).

The number of cached tokens shortens the request's prefill in the batching engine and is
reported as vLLM reports it: `usage.prompt_tokens_details.cached_tokens`, only with
`--enable-prompt-tokens-details` and only when above 0 (`serving_chat.py`).
"""

from __future__ import annotations

import hashlib
import struct
from collections import OrderedDict
from collections.abc import Sequence

BLOCK_TOKENS = 16  # vLLM's default --block-size
HASH_BYTES = 16
MediaItem = tuple[str, int]  # (digest of the item's data, its placeholder tokens)


def block_hashes(message_ids: Sequence[Sequence[int]], message_media: Sequence[Sequence[MediaItem]]) -> list[bytes]:
    """The chained hashes of a prompt's full blocks (the last partial block has none, as in vLLM)."""
    items: list[int | tuple[str, int]] = []
    for ids, media in zip(message_ids, message_media, strict=True):
        items.extend(ids)
        for digest, tokens in media:
            items.extend((digest, offset) for offset in range(tokens))
    hashes: list[bytes] = []
    parent = b""
    for start in range(0, len(items) - BLOCK_TOKENS + 1, BLOCK_TOKENS):
        block = items[start : start + BLOCK_TOKENS]
        data = b"".join(
            struct.pack("<i", item) if isinstance(item, int) else f"{item[0]}:{item[1]}".encode() for item in block
        )
        parent = hashlib.blake2b(parent + data, digest_size=HASH_BYTES).digest()
        hashes.append(parent)
    return hashes


def prompt_length(message_ids: Sequence[Sequence[int]], message_media: Sequence[Sequence[MediaItem]]) -> int:
    return sum(len(ids) for ids in message_ids) + sum(tokens for media in message_media for _, tokens in media)


class PrefixCache:
    """An LRU pool of block hashes."""

    def __init__(self, capacity_blocks: int) -> None:
        self.capacity_blocks = max(1, capacity_blocks)
        self._blocks: OrderedDict[bytes, None] = OrderedDict()

    def cached_tokens(self, hashes: Sequence[bytes], prompt_tokens: int) -> int:
        """Tokens of a new request's prompt found cached: its leading cached blocks, at most
        prompt_tokens - 1 in whole blocks."""
        hit_blocks = 0
        for block_hash in hashes:
            if block_hash not in self._blocks:
                break
            self._blocks.move_to_end(block_hash)
            hit_blocks += 1
        return min(hit_blocks, max(0, prompt_tokens - 1) // BLOCK_TOKENS) * BLOCK_TOKENS

    def insert(self, hashes: Sequence[bytes]) -> None:
        """A request's blocks, computed: the most recently used now."""
        for block_hash in hashes:
            if block_hash in self._blocks:
                self._blocks.move_to_end(block_hash)
            else:
                self._blocks[block_hash] = None
        while len(self._blocks) > self.capacity_blocks:
            self._blocks.popitem(last=False)
