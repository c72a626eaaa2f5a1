"""Payload batches built in a separate process, so a refill during load never holds the load generator's GIL.

A refill in a native thread of the load process held the GIL for most of its seconds of
work (prompt assembly, JSON, base64). Each time the event loop's thread came back from a
syscall it waited for the GIL, up to the interpreter's 5 ms switch interval, so streams
went unread for one ITL or more: the kernel then hands the first token's bytes over
together with the next token's, stamped with the later arrival, and TTFT comes out one
ITL long. Here the batch is built by a child interpreter (started, not forked: it holds
none of the parent's sockets) at lower CPU priority; the parent's native thread only
moves bytes through a pipe, one payload per frame.

    parent  --frame(job)-->  child      job = (spec, model, count, seed, prefix_seed)
    parent  <--frame(payload)... frame(None)--  child     or frame(str) when the build failed
"""

from __future__ import annotations

from gevent import monkey

import os
import pickle
import struct
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from harness.load.payloads import Payload, build_payloads
from harness.tokenizer import load_tokenizer

if TYPE_CHECKING:
    from harness.options import PayloadSpec

BUILDER_NICENESS = 10  # the child yields the CPU to the load generator and the server
FRAME_HEADER = struct.Struct("<Q")  # a frame: its length in bytes, then a pickle
# A lock native threads can share (monkey-patching makes threading.Lock a gevent lock).
_native_lock = monkey.get_original("threading", "Lock")


def write_frame(fd: int, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(FRAME_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def read_frame(fd: int) -> Any:
    (length,) = FRAME_HEADER.unpack(_read_exactly(fd, FRAME_HEADER.size))
    return pickle.loads(_read_exactly(fd, length))


def _read_exactly(fd: int, size: int) -> bytes:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError("the payload builder process ended")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class BuilderProcess:
    """A child interpreter that builds payload batches on request; `build` blocks (call it in a native thread)."""

    def __init__(self) -> None:
        # Plain blocking pipes of our own: gevent's subprocess would make its pipe ends non-blocking.
        job_read, self._job_write = os.pipe()
        self._result_read, result_write = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "harness.load.builder"], stdin=job_read, stdout=result_write, close_fds=True
        )
        os.close(job_read)
        os.close(result_write)
        self._building = _native_lock()  # held by the thread in build(); close() waits for it
        self._closed = False

    def build(self, spec: PayloadSpec, model: str, count: int, seed: int, prefix_seed: int) -> list[Payload]:
        with self._building:
            if self._closed:  # never touch the pipes' numbers after close: the kernel may have reused them
                raise EOFError("the payload builder process was closed")
            write_frame(self._job_write, (spec, model, count, seed, prefix_seed))
            payloads = []
            while (frame := read_frame(self._result_read)) is not None:
                if isinstance(frame, str):
                    raise RuntimeError(f"payload builder process: {frame}")
                payloads.append(frame)
            return payloads

    def close(self) -> None:
        """End the child, wait for a build in flight to see it end, then close the pipes."""
        if self._closed:
            return
        self._closed = True
        if self.process.poll() is None:
            self.process.terminate()  # a batch in progress is not wanted any more
        self.process.wait()
        with self._building:  # a build in flight has read EOF by now
            os.close(self._job_write)
            os.close(self._result_read)


def serve(jobs_fd: int, results_fd: int) -> None:
    """The child's loop: one batch per job frame until the parent closes the pipe."""
    os.nice(BUILDER_NICENESS)
    tokenizers: dict[str | None, Any] = {}
    while True:
        try:
            spec, model, count, seed, prefix_seed = read_frame(jobs_fd)
        except EOFError:
            return
        try:
            if spec.tokenizer_path not in tokenizers:
                tokenizers[spec.tokenizer_path] = load_tokenizer(spec.tokenizer_path)
            batch = build_payloads(spec, model, tokenizers[spec.tokenizer_path], count, seed, prefix_seed)
        except Exception as exc:  # the parent raises it where the batch was asked for
            write_frame(results_fd, f"{type(exc).__name__}: {exc}")
            continue
        for payload in batch:
            write_frame(results_fd, payload)
        write_frame(results_fd, None)


if __name__ == "__main__":
    results = os.dup(1)
    os.dup2(2, 1)  # a stray print goes to stderr, never into a frame
    serve(0, results)
