"""omniload's live Prometheus metrics, served by the master (or the single process).

Fed from the records the master receives anyway (workers run no exporter: their
records are the deltas). Warm-up requests stay out, as in the stage statistics, so
the counters add up to summary.json. Labels are bounded: the model, a request's class
("load", a --mix class, or "probe" for --probe-rate's text probes: dashboards leave those
out of the load's figures), an outcome and a reason from a fixed list, a stage's
parallel/number, a worker's index.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.process_collector import ProcessCollector

from harness.buckets import (
    AUDIO_RTF_BUCKETS,
    CLIENT_LATENCY_BUCKETS_S,
    CLIENT_TPOT_BUCKETS_S,
    CLIENT_TTFA_BUCKETS_S,
    CLIENT_TTFT_BUCKETS_S,
)
from harness.master.bulkhistogram import BulkHistogram
from harness.master.client_watch import second_limited
from harness.master.stats import meets_slos
from harness.records import RequestRecord
from harness.wire import FAILURE_REASONS


class LiveMetrics:
    """The master's registry of omniload_* series; fed by Master with each kept record."""

    def __init__(
        self, model: str, registry: CollectorRegistry | None = None, classes: tuple[str, ...] = ("load",)
    ) -> None:
        """classes: the request classes whose series exist from the start (a run's --mix names, or "load")."""
        self.registry = registry or CollectorRegistry()
        self.model = model
        labels = ["model"]
        per_class = ["model", "class"]
        registry_ = self.registry

        def histogram(name: str, doc: str, buckets: tuple[float, ...]) -> Histogram:
            return Histogram(name, doc, per_class, buckets=buckets, registry=registry_)

        self.ttft = histogram("omniload_ttft_seconds", "Client time to first token", CLIENT_TTFT_BUCKETS_S)
        self.tpot = histogram("omniload_tpot_seconds", "Client time per output token", CLIENT_TPOT_BUCKETS_S)
        self.itl = BulkHistogram(
            "omniload_itl_seconds", "Client gaps between output events", per_class, CLIENT_TPOT_BUCKETS_S, registry_
        )
        self.e2e = histogram("omniload_e2e_latency_seconds", "Client request latency", CLIENT_LATENCY_BUCKETS_S)
        # --audio-output: the spoken answers as their listeners got them (harness/playback.py)
        self.ttfa = histogram("omniload_ttfa_seconds", "Client time to first audio", CLIENT_TTFA_BUCKETS_S)
        self.audio_rtf = histogram(
            "omniload_audio_rtf", "Spoken answers' real-time factor (last chunk per second of audio)", AUDIO_RTF_BUCKETS
        )
        self.audio_seconds = Counter(
            "omniload_audio_seconds", "Seconds of spoken answer received", per_class, registry=registry_
        )
        self.underruns = Counter(
            "omniload_audio_underruns",
            "Times a player started at the first audio chunk ran dry",
            per_class,
            registry=registry_,
        )
        self.underrun_seconds = Counter(
            "omniload_audio_underrun_seconds", "Seconds such players were dry", per_class, registry=registry_
        )
        self.requests = Counter(
            "omniload_requests", "Requests ended", ["model", "class", "outcome", "reason"], registry=registry_
        )
        self.good_requests = Counter(
            "omniload_good_requests", "Successful requests that met every --goodput SLO", per_class, registry=registry_
        )
        self.prompt_tokens = Counter(
            "omniload_prompt_tokens", "Prompt tokens (server usage)", per_class, registry=registry_
        )
        self.completion_tokens = Counter(
            "omniload_completion_tokens", "Completion tokens", per_class, registry=registry_
        )
        self.in_flight = Gauge(
            "omniload_in_flight_requests", "Requests sent and not yet ended", labels, registry=registry_
        )
        self.users = Gauge("omniload_users", "Locust users running", labels, registry=registry_)
        self.workers = Gauge("omniload_workers", "Load-generating processes", labels, registry=registry_)
        self.stage = Gauge(
            "omniload_stage", "1 for the running stage", ["model", "parallel", "number"], registry=registry_
        )
        self.stage_index = Gauge(
            "omniload_stage_index", "Number of the running stage (0: none yet)", labels, registry=registry_
        )
        self.worker_cpu = Gauge(
            "omniload_worker_cpu_seconds",
            "CPU a load generator used (a counter's value)",
            ["model", "worker"],
            registry=registry_,
        )
        self.client_cpu = Gauge(
            "omniload_client_cpu_share",
            "A load generator's CPU over its last second, share of one core",
            ["model", "worker"],
            registry=registry_,
        )
        self.client_lag = Gauge(
            "omniload_client_loop_lag_p99_seconds",
            "A load generator's event-loop lag p99 over its last second",
            ["model", "worker"],
            registry=registry_,
        )
        self.client_read_delay = Gauge(
            "omniload_client_read_delay_p99_seconds",
            "A load generator's delay from the kernel's receive stamp to its read, p99 of its recent reads",
            ["model", "worker"],
            registry=registry_,
        )
        self.client_limited = Gauge(
            "omniload_client_limited",
            "1 while a load generator passes its CPU or read-delay limit",
            ["model", "worker"],
            registry=registry_,
        )
        ProcessCollector(registry=registry_)
        for request_class in classes:
            self.requests.labels(model, request_class, "ok", "")
            # Every reason pre-created at 0, so a run without failures still has the series
            # (http_<status> reasons appear when seen).
            for reason in FAILURE_REASONS:
                self.requests.labels(model, request_class, "error", reason)
            for metric in (self.ttft, self.tpot, self.e2e, self.prompt_tokens, self.completion_tokens):
                metric.labels(model, request_class)
            self.good_requests.labels(model, request_class)
            self.itl.touch((model, request_class))
        for gauge in (self.in_flight, self.users, self.workers, self.stage_index):
            gauge.labels(model)

    def _observe_speech(self, record: RequestRecord) -> None:
        model, request_class = self.model, record.request_class
        assert record.ttfa_s is not None
        self.ttfa.labels(model, request_class).observe(record.ttfa_s)
        if record.audio_rtf is not None:
            self.audio_rtf.labels(model, request_class).observe(record.audio_rtf)
        self.audio_seconds.labels(model, request_class).inc(record.audio_out_s or 0.0)
        self.underruns.labels(model, request_class).inc(record.underruns)
        self.underrun_seconds.labels(model, request_class).inc(record.underrun_s)

    def serve(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)

    def observe(
        self, record: RequestRecord, worker_cpu_s: float | None = None, slos_s: dict[str, float] | None = None
    ) -> None:
        """One finished (non-warm-up) request, or probe; slos_s: --goodput's bounds (record field -> s)."""
        model, request_class = self.model, record.request_class
        if record.error is None:
            self.requests.labels(model, request_class, "ok", "").inc()
            if slos_s and meets_slos(record, slos_s):
                self.good_requests.labels(model, request_class).inc()
            for histogram, value in (
                (self.ttft, record.ttft_s),
                (self.tpot, record.tpot_s),
                (self.e2e, record.latency_s),
            ):
                if value is not None:
                    histogram.labels(model, request_class).observe(value)
            self.itl.observe_many((model, request_class), record.itl_s)
            if record.ttfa_s is not None:
                self._observe_speech(record)
            self.prompt_tokens.labels(model, request_class).inc(record.prompt_tokens or 0)
            self.completion_tokens.labels(model, request_class).inc(record.completion_tokens or 0)
        else:
            self.requests.labels(model, request_class, "error", record.error["reason"]).inc()
        if worker_cpu_s is not None:
            self.worker_cpu.labels(model, str(record.worker)).set(worker_cpu_s)

    def set_client(self, worker: int, cpu_share: float, lag_s: float, read_delay_s: float = 0.0) -> None:
        """One load generator's last second (from its HEALTH message)."""
        labels = (self.model, str(worker))
        self.client_cpu.labels(*labels).set(cpu_share)
        self.client_lag.labels(*labels).set(lag_s)
        self.client_read_delay.labels(*labels).set(read_delay_s)
        self.client_limited.labels(*labels).set(1 if second_limited(cpu_share, read_delay_s) else 0)

    def set_load(self, users: int, workers: int, in_flight: int) -> None:
        self.users.labels(self.model).set(users)
        self.workers.labels(self.model).set(workers)
        self.in_flight.labels(self.model).set(in_flight)

    def set_stage(self, index: int, parallel: int, number: str, running: bool) -> None:
        """number: the stage's size label (a count, or a duration such as "60s")."""
        self.stage.labels(self.model, str(parallel), str(number)).set(1 if running else 0)
        self.stage_index.labels(self.model).set(index if running else 0)

    def linger(self, seconds: float) -> None:
        """Keep serving a last while after the run, so the final values get scraped."""
        time.sleep(seconds)
