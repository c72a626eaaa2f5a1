"""The results contract: what a run writes and the shapes of its JSON, beside the wire contract.

harness/wire.py says what the two sides of a run send each other; this module says what
a run leaves behind (file names, summary.json's typed shape, a stage's figures, the
limits a stage is judged by). The master writes these shapes, the report and the app
read them, and OmniBench adds its part: each imports this module, none the others'
internals.
"""

from __future__ import annotations

import os
import time
from typing import Any, NotRequired, TypedDict

from harness.wire import ClientUsage, PayloadFacts

# --- files under --report-dir -------------------------------------------------------------

DEFAULT_REPORT_ROOT = "results"  # --report-dir's default: results/<UTC time>

SUMMARY_FILE = "summary.json"
REQUESTS_FILE = "requests.jsonl"
STAGES_CSV = "stages.csv"
SLA_SUMMARY_FILE = "sla_summary.json"
SERVER_METRICS_FILE = "server_metrics.jsonl"  # the server's /metrics lines kept, with their read time
REPORT_FILE = "report.html"
OMNIBENCH_DIR = "omnibench"  # the accuracy pass's summary.json and samples.jsonl
OMNIBENCH_SAMPLES_FILE = "samples.jsonl"

# The server's metrics kept in server_metrics.jsonl (vLLM's names): gauges and histogram buckets.
SERVER_GAUGES = {"vllm:num_requests_running": "running", "vllm:num_requests_waiting": "waiting"}
SERVER_KV_CACHE = "vllm:kv_cache_usage_perc"
SERVER_HISTOGRAMS = {"vllm:time_to_first_token_seconds": "TTFT", "vllm:request_time_per_output_token_seconds": "TPOT"}
KEPT_PREFIXES = tuple(SERVER_GAUGES) + (SERVER_KV_CACHE,) + tuple(f"{name}_bucket" for name in SERVER_HISTOGRAMS)


def default_report_dir() -> str:
    """results/<UTC time>, for a run given no --report-dir."""
    return os.path.join(DEFAULT_REPORT_ROOT, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))


PROBE_CLASS = "probe"  # a record's request_class for --probe-rate's requests (harness/load/probe.py)


# --- the limits a stage is judged by (README, "Is the load generator the limit?") ----------

# A rate stage whose p99 lateness passes this was late by the load generator's doing.
LATE_P99_LIMIT_S = 0.005
CLIENT_CPU_LIMIT = 0.80  # share of one core over a stage
CLIENT_READ_DELAY_LIMIT_S = 0.010  # read delay p99 in any second of a stage

# --- summary.json -----------------------------------------------------------------------


DEFAULT_PERCENTILES = (50.0, 90.0, 99.0)  # --percentiles' default: the set every table shows
MAX_PERCENTILE = 99.9
FIXED_PERCENTILES = (50.0, 90.0, 95.0, 99.0)  # always in a Distribution (goodput, SLA and charts read them)


def percentile_key(p: float) -> str:
    """A percentile's key in a Distribution and its column names: p50, p99, p99.9."""
    return f"p{p:g}"


SATURATION_RPS_GAIN = 0.10  # RPS growing less than this from one stage to the next: saturated
SATURATION_LATENCY_GROWTH = 0.10  # ... while p50 latency grows more than this (--stop-when-saturated)


class Distribution(TypedDict):
    """Summary statistics of one metric over a stage (nearest-rank percentiles); None when empty.

    p50/p90/p95/p99 always; --percentiles adds others under their percentile_key (p75, p99.9).
    `ci`: 95 % intervals [low, high] of the mean and of every percentile (harness/intervals.py: order
    statistics; a side None when the stage has too few values for it); `few`: the percentiles that are
    only the maximum (no value ranks above them), which tables show as "few"; `std`: the sample standard
    deviation (None below two values)."""

    mean: float | None
    min: float | None
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    max: float | None
    n: NotRequired[int]
    std: NotRequired[float | None]
    ci: NotRequired[dict[str, list[float | None]]]
    few: NotRequired[list[str]]


class StageClientHealth(TypedDict):
    """A stage's load generators in summary.json: the worst of them, and each."""

    cpu_share_max: float  # of one core, over the stage
    read_delay_p99_ms_max: float  # the highest read-delay p99 any second reported
    loop_lag_p99_ms_max: float  # the highest rolling p99 (over 10 s of ticks) any second reported (shown, not judged)
    limited: bool  # some generator passed a limit (limited_by says which)
    limited_by: list[str]  # "cpu", "read_delay", "send_lateness"
    workers: dict[str, dict[str, float]]


class ProbeSummary(TypedDict):
    """The probes sent while a stage ran (--probe-rate): apart from the stage's own figures."""

    sent: int
    succeeded: int
    failed: int
    ttft_s: Distribution
    tpot_s: Distribution
    latency_s: Distribution


class MediaSummary(TypedDict):
    """What a stage's requests carried, per second of its wall time (sent requests)."""

    request_bytes_mean: float
    request_bytes_per_s: float
    images_per_s: float
    audio_s_per_s: float  # seconds of input_audio clips per second
    video_s_per_s: float  # seconds of video per second


class CacheSummary(TypedDict):
    """Prompt tokens the server found in its prefix cache (usage.prompt_tokens_details.cached_tokens), over the
    stage's successes; present when the server said so for any of them (vLLM with
    --enable-prompt-tokens-details leaves the details out of a request that found nothing cached)."""

    cached_tokens: int
    prompt_tokens: int
    cached_share: float  # cached_tokens / prompt_tokens
    reported_by: int  # successes whose usage carried the count


class SliceSummary(TypedDict):
    """One --slice window of a stage: the requests that ended in it."""

    start_s: float  # after the stage's first send
    ended: int
    rps: float  # successes per second of the window
    errors: int
    ttft_p50_s: float | None
    ttft_p99_s: float | None


class SpeechSummary(TypedDict):
    """--audio-output: a stage's spoken answers as their listeners got them (harness/playback.py)."""

    answers: int  # successes with audio
    audio_s: float  # seconds of speech received, in all
    audio_s_per_s: float  # per second of the stage's wall time
    underrun_share: float  # of the answers, the share whose player ran dry at least once
    underrun_share_ci: list[float]  # Wilson's 95 % interval
    underruns: int  # in all
    underrun_s: float  # seconds dry, in all
    playback_start_s: Distribution  # the earliest start that never runs dry, after the send


class StageSummary(TypedDict):
    """One stage's row of summary.json (evalscope perf's definitions)."""

    stage: NotRequired[int]  # numbered from 1, as the console, the report and stages.csv number it
    percentiles: NotRequired[list[float]]  # --percentiles: the set its tables show (DEFAULT_PERCENTILES if absent)
    parallel: int | None
    number: int | None
    sent: int
    succeeded: int
    failed: int
    wall_time_s: float
    rps: float
    output_tokens_per_s: float
    total_tokens_per_s: float
    success_rate: float
    success_rate_ci: NotRequired[list[float]]  # Wilson's 95 % interval
    rps_ci: NotRequired[list[float | None]]  # the successes' count as Poisson, per second of wall time
    output_tokens_per_s_ci: NotRequired[list[float | None]]  # rps_ci and the mean tokens' interval combined
    total_tokens_per_s_ci: NotRequired[list[float | None]]
    ttfa_s: NotRequired[Distribution]  # --audio-output: time to first audio of the answers that spoke
    audio_rtf: NotRequired[Distribution]  # their real-time factor (last chunk's arrival per second of audio)
    speech: NotRequired[SpeechSummary]
    ttft_s: Distribution
    tpot_s: Distribution
    itl_s: Distribution
    latency_s: Distribution
    prompt_tokens: Distribution
    completion_tokens: Distribution
    errors: dict[str, int]
    streams_without_done: int  # successful streams that ended without data: [DONE] (allowed; real servers omit it)
    goodput_rps: float | None  # requests per second that met every --goodput SLO (None: no SLOs)
    good_requests: int | None
    client: NotRequired[StageClientHealth]  # how the load generators fared (HEALTH messages), when they said
    # rate stages only (--rate): the schedule kept, or not
    rate_rps: NotRequired[float]  # the asked rate
    open_loop: NotRequired[bool]
    lateness_s: NotRequired[Distribution]  # send time minus due time, over the requests sent
    # p99 lateness past LATE_P99_LIMIT_S: the load generator, not the server, was late
    generator_late: NotRequired[bool]
    probe: NotRequired[ProbeSummary]  # --probe-rate: the text probes sent while this stage ran
    media: NotRequired[MediaSummary]  # request bytes and media per second
    classes: NotRequired[dict[str, StageSummary]]  # --mix: the same figures per request class (they add up)
    turns: NotRequired[dict[str, StageSummary]]  # --multi-turn: "first" and "later" turns' figures
    cache: NotRequired[CacheSummary]  # the server's prompt cache hits, when it reports them
    slices: NotRequired[list[SliceSummary]]  # --slice: per window of the stage
    request_class: NotRequired[str]  # a table row's class: "all" for the stage's overall row of a mix, or a class


class WorkerSummary(TypedDict, total=False):
    """One load generator's part of summary.json (from its READY and DONE messages)."""

    payloads: PayloadFacts
    tokenize_check: dict[str, Any]
    client: ClientUsage
    unreachable_s: float


class RunSummary(TypedDict, total=False):
    """summary.json as written by the master at the end of a run."""

    model: str
    started_at: str  # ISO 8601 UTC
    provenance: dict[str, str]  # omniload's version, its own commit, the host (harness/provenance.py)
    config: dict[str, Any]  # the options, secrets left out
    stages: list[StageSummary]
    payloads: PayloadFacts  # over all load generators: how the pools were built, requests that reused one
    tokenize_check: dict[str, Any]  # a prompt's length as the server's /tokenize counts it
    client: ClientUsage  # CPU all load generators used during load (cpu_percent: of one core)
    workers: dict[str, WorkerSummary]  # per load generator (index; "0" for a single process)
    unreachable_s: float  # longest time any load generator could not reach the server
    lost_workers: dict[str, int]  # worker id -> requests lost in flight
    completed: bool  # every stage ran its whole budget
    server_profile: str  # vllm or openai: which request extensions were sent
    output_length_enforced: bool  # the server was told to produce exactly the asked output length
    stopped_by: str  # what stopped the run early (SIGTERM, SIGINT, a guard's reason), when something did
    stopped_early: str  # the guard that stopped it (max_error_rate, saturated): the exit code is 3
    omnibench: dict[str, Any]
    dataset: dict[str, Any]  # --dataset: its rows, and the bad ones left out (counted, the first named)
    repeated: list[dict[str, Any]]  # --num-runs: per planned stage, pooled figures, its runs and between_runs
    sla: list[Any]  # --sla-auto-tune: each group's answer (harness/master/sla.py SlaResult); sla_summary.json has more


def load_of(stage: StageSummary) -> str:
    """A stage's load in words: its rate, or its concurrency."""
    rate_rps = stage.get("rate_rps")
    if rate_rps is None:
        return f"concurrency {stage['parallel']}"
    return f"{'open-loop ' if stage.get('open_loop') else ''}rate {rate_rps:g} req/s"
