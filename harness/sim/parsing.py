"""Request parsing and prompt token counting in worker processes, off the event loop.

A 1 MB multimodal body costs ~6 ms of JSON and base64 work and a 1024-token prompt ~2 ms
of tokenizing. On the event loop that time would delay every open stream's events and
the arrival stamps of requests coming in meanwhile (a burst of 25 such requests would
stall the loop for ~200 ms). Worker processes are forked before the event loop starts.
"""

from __future__ import annotations

import ctypes
import hashlib
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor

from harness.sim.errors import SimRequestError
from harness.sim.prefixcache import block_hashes
from harness.sim.request import ChatRequest, parse_chat_request
from harness.tokenizer import ChatRenderer, load_tokenizer

PARSER_PROCESSES = 2
PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
BODY_DIGEST_BYTES = 8

_renderer: ChatRenderer | None = None


def start_parser_pool(tokenizer_path: str | None, processes: int = PARSER_PROCESSES) -> ProcessPoolExecutor:
    """Fork the parser processes (call before any event loop or thread exists) and warm them."""
    pool = ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_load,
        initargs=(tokenizer_path, os.getpid()),
    )
    for future in [pool.submit(parse_and_count, WARM_UP_BODY, ("m",)) for _ in range(processes)]:
        future.result()
    return pool


def parse_and_count(body: bytes, models: tuple[str, ...]) -> tuple[ChatRequest, int, str, list[bytes]]:
    """The parsed request, its text tokens (chat template included), its body's digest and its prompt's block
    hashes (harness/sim/prefixcache.py); raises SimRequestError."""
    assert _renderer is not None, "runs in a parser process"
    chat = parse_chat_request(body, models)
    tokens, hashes = count_and_hash(_renderer, chat)
    return chat, tokens, body_digest(body), hashes


def count_and_hash(renderer: ChatRenderer, chat: ChatRequest) -> tuple[int, list[bytes]]:
    """The rendered prompt's text tokens and the prefix cache's block hashes: one batch through the tokenizer
    (the Rust side releases the GIL: callable from a thread)."""
    segments = [f"<|im_start|>{message['role']}\n{message['content']}<|im_end|>\n" for message in chat.text_messages]
    encodings = renderer.tokenizer.backend_tokenizer.encode_batch(
        [render_text(renderer, chat), *segments], add_special_tokens=False
    )
    return len(encodings[0].ids), block_hashes([e.ids for e in encodings[1:]], chat.message_media)


def body_digest(body: bytes) -> str:
    """A short fingerprint of a request body: equal digests, the same payload sent again."""
    return hashlib.blake2b(body, digest_size=BODY_DIGEST_BYTES).hexdigest()


def text_digest(text: str) -> str:
    """A short fingerprint of a message's text (ground truth: a later turn's history against earlier answers)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=BODY_DIGEST_BYTES).hexdigest()


def render_text(renderer: ChatRenderer, chat: ChatRequest) -> str:
    """The request's text turns through the chat template."""
    try:
        return renderer.render(chat.text_messages)
    except Exception as exc:  # the template raises on e.g. unknown roles
        raise SimRequestError(400, f"chat template error: {exc}", "messages") from None


def _load(tokenizer_path: str | None, server_pid: int) -> None:
    global _renderer
    _die_with(server_pid)
    _renderer = ChatRenderer(load_tokenizer(tokenizer_path))


def _die_with(server_pid: int) -> None:
    """Be killed when the server process dies, even by SIGKILL (Linux's PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return  # not Linux: the pool's own shutdown is all there is
    if os.getppid() != server_pid:  # it died before the line above
        os._exit(1)


WARM_UP_BODY = b'{"model": "m", "messages": [{"role": "user", "content": "warm up"}], "max_tokens": 1}'
