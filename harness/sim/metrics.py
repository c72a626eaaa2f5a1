"""The simulator's `/metrics`: vLLM's metric names, types, labels and bucket boundaries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest

from harness.buckets import VLLM_REQUEST_LATENCY_BUCKETS_S, VLLM_TPOT_BUCKETS_S, VLLM_TTFT_BUCKETS_S

LABELS = ("model_name", "engine")
ENGINE_INDEX = "0"
FINISHED_REASONS = ("stop", "length", "abort", "error")

if TYPE_CHECKING:
    from harness.sim.sequence import Sequence

# vLLM exposes no `_created` series; neither do we.
disable_created_metrics()


class SimMetrics:
    """Holds one registry per simulator (fresh per instance, so tests can run several) and
    does vLLM's bookkeeping for each event and request the server sends."""

    def __init__(self, model_name: str) -> None:
        self.registry = CollectorRegistry()
        labels = (model_name, ENGINE_INDEX)

        def histogram(name: str, doc: str, buckets: tuple[float, ...]) -> Histogram:
            return Histogram(name, doc, LABELS, buckets=buckets, registry=self.registry)

        self._ttft = histogram(
            "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", VLLM_TTFT_BUCKETS_S
        ).labels(*labels)
        self._itl = histogram(
            "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", VLLM_TPOT_BUCKETS_S
        ).labels(*labels)
        self._tpot = histogram(
            "vllm:request_time_per_output_token_seconds",
            "Histogram of time_per_output_token_seconds per request.",
            VLLM_TPOT_BUCKETS_S,
        ).labels(*labels)
        self._e2e = histogram(
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            VLLM_REQUEST_LATENCY_BUCKETS_S,
        ).labels(*labels)
        self._queue = histogram(
            "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.",
            VLLM_REQUEST_LATENCY_BUCKETS_S,
        ).labels(*labels)
        self._running = Gauge(
            "vllm:num_requests_running",
            "Number of requests in model execution batches.",
            LABELS,
            registry=self.registry,
        ).labels(*labels)
        self._waiting = Gauge(
            "vllm:num_requests_waiting",
            "Number of requests waiting to be processed.",
            LABELS,
            registry=self.registry,
        ).labels(*labels)
        self._kv_usage = Gauge(
            "vllm:kv_cache_usage_perc",
            "KV-cache usage. 1 means 100 percent usage.",
            LABELS,
            registry=self.registry,
        ).labels(*labels)
        self._prompt_tokens = Counter(
            "vllm:prompt_tokens", "Number of prefill tokens processed.", LABELS, registry=self.registry
        ).labels(*labels)
        self._generation_tokens = Counter(
            "vllm:generation_tokens", "Number of generation tokens processed.", LABELS, registry=self.registry
        ).labels(*labels)
        success = Counter(
            "vllm:request_success",
            "Count of successfully processed requests.",
            LABELS + ("finished_reason",),
            registry=self.registry,
        )
        self._success = {reason: success.labels(*labels, reason) for reason in FINISHED_REASONS}

    def set_load(self, running: int, waiting: int, kv_cache_usage: float) -> None:
        self._running.set(running)
        self._waiting.set(waiting)
        self._kv_usage.set(kv_cache_usage)

    def observe_queue(self, queue_s: float) -> None:
        self._queue.observe(queue_s)

    def on_event(self, seq: Sequence, tokens: int, due_perf: float, previous_due_perf: float | None) -> None:
        """A stream event with `tokens` tokens went out; its last was due at due_perf (perf_counter s)."""
        self._generation_tokens.inc(tokens)
        if previous_due_perf is None:  # the first event: TTFT and the prompt's prefill
            self._ttft.observe(due_perf - seq.received_perf)
            self._prompt_tokens.inc(seq.prompt_tokens)
            return
        itl_s = (due_perf - previous_due_perf) / tokens
        for _ in range(tokens):
            self._itl.observe(itl_s)

    def on_whole(self, seq: Sequence, finish_reason: str) -> None:
        """A non-streamed completion went out whole."""
        first_perf = seq.first_token_perf or 0.0
        self._ttft.observe(first_perf - seq.received_perf if seq.first_token_perf else 0.0)
        self._prompt_tokens.inc(seq.prompt_tokens)
        total = seq.output_tokens
        self._generation_tokens.inc(total)
        itl_s = (seq.ready_perf - first_perf) / max(1, total - 1)
        for _ in range(total - 1):
            self._itl.observe(itl_s)
        self.on_finished(seq, finish_reason)

    def on_finished(self, seq: Sequence, finish_reason: str) -> None:
        """A request ended: vLLM's success counter by finish reason, E2E and per-request TPOT."""
        first_perf = seq.first_token_perf
        self._success[finish_reason].inc()
        self._e2e.observe(seq.ready_perf - seq.received_perf if first_perf is not None else 0.0)
        if first_perf is not None and seq.tokens_ready > 1:
            self._tpot.observe((seq.ready_perf - first_perf) / (seq.tokens_ready - 1))

    def render(self) -> bytes:
        return generate_latest(self.registry)
