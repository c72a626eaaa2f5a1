"""When tokens come out: continuous batching (vLLM-like) or fixed timing.

Both engines answer one question for the HTTP handler: "wait until this sequence has at
least N tokens; how many does it have now, and at what (perf_counter) time was the
latest one scheduled?". The handler sends them and measures how late it was.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque

from harness.sim.metrics import SimMetrics
from harness.sim.sequence import Sequence


class Engine:
    """Interface shared by both timing models."""

    async def wait_for(self, seq: Sequence, tokens: int) -> tuple[int, float]:
        raise NotImplementedError

    def add(self, seq: Sequence) -> None:
        raise NotImplementedError

    def finish(self, seq: Sequence) -> None:
        raise NotImplementedError


# uvloop's timers have millisecond resolution against a clock cached per loop iteration,
# so they fire up to ~1 ms early; an early wake-up with under 1 ms left is rounded to
# "now" again and spins. Asking for a little more than needed avoids most re-sleeps.
SLEEP_OVERSHOOT_S = 0.0003


async def sleep_until(due_perf: float) -> None:
    """Sleep until perf_counter() >= due_perf (never returns early)."""
    delay_s = due_perf - time.perf_counter()
    while delay_s > 0:
        await asyncio.sleep(delay_s + SLEEP_OVERSHOOT_S)
        delay_s = due_perf - time.perf_counter()


class FixedEngine(Engine):
    """Constant timing: first token TTFT (+ uniform [0, jitter) per request) after arrival, then one token every
    ITL, no queueing."""

    def __init__(self, ttft_s: float, itl_s: float, metrics: SimMetrics, jitter_s: float = 0.0, seed: int = 0) -> None:
        self.ttft_s = ttft_s
        self.itl_s = itl_s
        self.metrics = metrics
        self.running = 0
        self.jitter_s = jitter_s
        self._rng = random.Random(seed)

    def add(self, seq: Sequence) -> None:
        seq.first_token_delay_s = self.ttft_s + (self._rng.uniform(0.0, self.jitter_s) if self.jitter_s else 0.0)
        self.running += 1
        self.metrics.set_load(self.running, 0, 0.0)

    async def wait_for(self, seq: Sequence, tokens: int) -> tuple[int, float]:
        tokens = min(tokens, seq.output_tokens)
        due_perf = seq.received_perf + seq.first_token_delay_s + (tokens - 1) * self.itl_s
        await sleep_until(due_perf)
        if seq.first_token_perf is None:
            seq.first_token_perf = seq.received_perf + seq.first_token_delay_s
        seq.tokens_ready, seq.ready_perf = tokens, due_perf
        return tokens, due_perf

    def finish(self, seq: Sequence) -> None:
        if not seq.done:
            seq.done = True
            self.running -= 1
            self.metrics.set_load(self.running, 0, 0.0)


class BatchingEngine(Engine):
    """Continuous batching: `max_num_seqs` slots, a FIFO waiting queue, one token per step.

    A step takes decode_ms + decode_ms_per_seq × (sequences decoding) plus, for sequences
    admitted in it, their uncached prompt tokens / prefill_tokens_per_s (prefill shares the
    step, as with chunked prefill; cached tokens come from the prefix cache). Admitted
    sequences get their first token at the end of that step. A sequence is admitted only if
    its prompt + output fit in the KV cache.
    """

    def __init__(
        self,
        max_num_seqs: int,
        prefill_tokens_per_s: float,
        decode_ms: float,
        decode_ms_per_seq: float,
        kv_cache_tokens: int,
        metrics: SimMetrics,
    ) -> None:
        self.max_num_seqs = max_num_seqs
        self.prefill_tokens_per_s = prefill_tokens_per_s
        self.decode_s = decode_ms / 1000
        self.decode_s_per_seq = decode_ms_per_seq / 1000
        self.kv_cache_tokens = kv_cache_tokens
        self.metrics = metrics
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self._work = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def add(self, seq: Sequence) -> None:
        seq.queued_perf = time.perf_counter()
        self.waiting.append(seq)
        self._work.set()
        self._publish_load()

    async def wait_for(self, seq: Sequence, tokens: int) -> tuple[int, float]:
        seq._wanted_tokens = min(tokens, seq.output_tokens)
        while seq.tokens_ready < seq._wanted_tokens:
            seq._wakeup.clear()
            await seq._wakeup.wait()
        return seq.tokens_ready, seq.ready_perf

    def finish(self, seq: Sequence) -> None:
        """Take a sequence out (finished or aborted by its client)."""
        if seq.done:
            return
        seq.done = True
        if seq in self.running:
            self.running.remove(seq)
        elif seq in self.waiting:
            self.waiting.remove(seq)
        self._publish_load()

    def _kv_tokens_used(self) -> int:
        return sum(seq.prompt_tokens + seq.output_tokens for seq in self.running)

    def _publish_load(self) -> None:
        used = sum(seq.prompt_tokens + seq.tokens_ready for seq in self.running)
        self.metrics.set_load(len(self.running), len(self.waiting), min(1.0, used / self.kv_cache_tokens))

    def _admit(self, now_perf: float) -> list[Sequence]:
        admitted: list[Sequence] = []
        kv_used = self._kv_tokens_used()
        while self.waiting and len(self.running) < self.max_num_seqs:
            seq = self.waiting[0]
            need = seq.prompt_tokens + seq.output_tokens
            if self.running and kv_used + need > self.kv_cache_tokens:
                break
            self.waiting.popleft()
            self.metrics.observe_queue(max(0.0, now_perf - seq.queued_perf))
            self.running.append(seq)
            admitted.append(seq)
            kv_used += need
        return admitted

    async def _run(self) -> None:
        step_start_perf = time.perf_counter()
        while True:
            if not self.running and not self.waiting:
                self._work.clear()
                await self._work.wait()
                step_start_perf = time.perf_counter()
            # Steps run back to back on the ideal schedule, so a late wake-up does not drift
            # the timeline; after a long stall at most one step is made up.
            step_start_perf = max(step_start_perf, time.perf_counter() - self.decode_s)
            decoding = [seq for seq in self.running if seq.tokens_ready > 0]
            admitted = self._admit(step_start_perf)
            prefill_s = sum(seq.prompt_tokens - seq.cached_tokens for seq in admitted) / self.prefill_tokens_per_s
            step_end_perf = step_start_perf + self.decode_s + self.decode_s_per_seq * len(decoding) + prefill_s
            self._publish_load()
            await sleep_until(step_end_perf)
            for seq in admitted + decoding:
                if not seq.done and seq.tokens_ready < seq.output_tokens:
                    seq.produce(1, step_end_perf)
            step_start_perf = step_end_perf
