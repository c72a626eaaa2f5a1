"""The load flags, added to Locust's own parser, and the validated options they yield.

Going through Locust's parser means every flag also works in `locust.conf`, as a
`LOCUST_<NAME>` environment variable, in the web UI, and reaches workers (the master
sends its parsed options with every spawn message). Names follow `evalscope perf`
where it has one.

The options split by consumer, each part validating its own flags:
`ConnectionSpec` (the client: endpoint, timeouts), `PayloadSpec` (the payload pool:
prompts, images, output length), `SweepSpec` (the master: stages, warm-up, pauses),
`MetricsSpec` (the master: live metrics, Grafana) and the OmniBench pass's config.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import soundfile

from harness import safejson
from harness.argparsing import BadOption, at_least, refuse_given
from harness.audiospec import AUDIO_CONTENTS, AUDIO_FORMATS, SAMPLE_RATE_HZ, speech_available
from harness.conversationspec import SHAPING_FLAGS as CONVERSATION_SHAPING_FLAGS
from harness.conversationspec import ConversationSpec, add_conversation_arguments, conversation_spec
from harness.endpoint import (
    API_KEY_ENV,
    DEFAULT_API_PATH,
    OPENAI_VERSION_SEGMENT,
    Endpoint,
    checked_base_url,
    server_root,
)
from harness.mix import RequestClass, read_mix
from harness.omnibench.config import AFTER_LOAD_PREFIX, OmniBenchConfig, add_omnibench_arguments, omnibench_config
from harness.replay import replay_stages
from harness.results import DEFAULT_PERCENTILES, DEFAULT_REPORT_ROOT, MAX_PERCENTILE, default_report_dir
from harness.slaspec import (
    DEFAULT_LOWER_BOUND,
    DEFAULT_NUM_RUNS,
    DEFAULT_NUMBER_MULTIPLIER,
    DEFAULT_UPPER_BOUND,
    SLA_VARIABLES,
    SlaSpec,
    parse_sla_params,
)
from harness.speechspec import SpeechSpec, add_speech_arguments, speech_spec
from harness.trace import TraceError, read_trace
from harness.videospec import SHAPING_FLAGS as VIDEO_SHAPING_FLAGS
from harness.videospec import VideoSpec, add_video_arguments, video_spec

DEFAULT_PROMPT_TOKENS = 1024
DEFAULT_MAX_TOKENS = 1024
DEFAULT_IMAGE_SIDE_PX = 512
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_READ_TIMEOUT_S = 600.0
# Most seconds for one whole request (evalscope's --total-timeout): long enough for a
# very long output under heavy load, short enough that nothing hangs a sweep forever.
DEFAULT_TOTAL_TIMEOUT_S = 3600.0
# Seconds a stopping test waits for open streams to end (Locust's own default, 0, cuts
# them off mid-stream); `--stop-timeout` overrides it. Compose and Kubernetes grace periods
# must outlast it (tests/test_deploy.py).
DEFAULT_STOP_TIMEOUT_S = 120.0
DEFAULT_POOL_SIZE = 256
DEFAULT_SLEEP_INTERVAL_S = 5.0
DEFAULT_METRICS_HOST = "127.0.0.1"
DEFAULT_METRICS_PORT = 9646
MAX_IMAGE_SIDE_PX = 16384
MAX_IMAGE_NUM = 64  # images per request
MAX_IMAGE_PIXELS = 8192 * 8192  # per image: beyond it one image takes minutes to draw and encode
MAX_PROMPT_TOKENS = 1_048_576  # beyond any served context window
MAX_AUDIO_NUM = 16  # clips per request
MAX_AUDIO_SECONDS = 600.0  # per clip
DEFAULT_AUDIO_SECONDS = 5.0
# Share of this machine's memory the payloads of one load generator may take before load
# (all bodies, base64 images included); a noise image costs its raw pixel bytes, 4/3 over.
MAX_POOL_MEMORY_SHARE = 0.5
# Request fields the measurement depends on, which --extra-args may not override, and the
# flag that sets each one (other fields, temperature included, are merged in as given).
RESERVED_BODY_FIELDS = {
    "model": "--model",
    "messages": "--min/--max-prompt-length, --image-*, --audio-* and --video-*",
    "stream": "--stream/--no-stream",
    "stream_options": "--stream",
    "max_tokens": "--max-tokens",
    "min_tokens": "--min-tokens",
    "ignore_eos": "--ignore-eos",
    "modalities": "--audio-output",
    "audio": "--audio-output",
}

IMAGE_CONTENTS = ("noise", "shapes")
PREFIX_DISTRIBUTIONS = ("zipf", "uniform")
# Which request extensions are sent: vLLM's min_tokens/ignore_eos, or plain OpenAI fields;
# "auto" is resolved before load (harness/load/preflight.py) and reaches workers resolved.
SERVER_PROFILES = ("auto", "vllm", "openai")
ARRIVALS = ("poisson", "gamma", "constant")  # --arrival (harness/master/arrivals.py)
DEFAULT_MAX_CONCURRENCY = 256  # --open-loop: users per stage
# --rate bounds: below MIN a 2-request stage waits longer than a day's run; above MAX no
# client keeps the schedule (and the gaps underflow).
MIN_RATE_RPS = 1e-3
MAX_RATE_RPS = 1e6
# --burstiness bounds: a gamma shape below MIN draws gaps that underflow to 0 (every send
# at once); above MAX the gaps are constant to within 1 %.
MIN_BURSTINESS = 1e-2
MAX_BURSTINESS = 1e4
MAX_USERS = 100_000  # users per stage (--parallel, an SLA search's upper bound, --max-concurrency)
IMAGE_ENCODINGS = ("png", "jpeg")
# PIL modes each encoding can write.
ENCODABLE_MODES = {
    "png": ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"),
    "jpeg": ("1", "L", "RGB", "CMYK"),
}
# Flags whose values never leave the process: not in reports, logs, metrics or the web UI.
SECRET_FLAGS = ("api_key", "grafana_url")


def add_arguments(parser: Any) -> None:
    """Add omniload's flags to Locust's parser (a configargparse parser with web-UI extras)."""

    added: set[str] = set()

    def add(flag: str, **kwargs: Any) -> None:
        # Locust's own add_argument (not a group's) knows is_secret and the web UI.
        dest = flag.lstrip("-").replace("-", "_")
        parser.add_argument(flag, env_var=f"LOCUST_{dest.upper()}", **kwargs)
        added.add(dest)

    add("--model", default="", help="Model name sent in each request (required)")
    add(
        "--api-key",
        default=os.environ.get(API_KEY_ENV, ""),
        is_secret=True,
        help=f"Bearer token (default: ${API_KEY_ENV}); never written anywhere",
    )
    add("--api-path", default=DEFAULT_API_PATH, help="Chat completions path on --host")
    add(
        "--min-prompt-length",
        type=int,
        default=DEFAULT_PROMPT_TOKENS,
        help="Fewest text tokens per prompt (chat template included)",
    )
    add(
        "--max-prompt-length",
        type=int,
        default=DEFAULT_PROMPT_TOKENS,
        help="Most text tokens per prompt; lengths are drawn uniformly between min and max",
    )
    add("--prefix-length", type=int, default=0, help="Tokens of shared prefix added before every prompt")
    add(
        "--prefix-groups",
        type=int,
        default=0,
        help="Shared prefixes: N different --prefix-length prefixes, each request taking one by popularity "
        "(--prefix-distribution), so a server's prefix cache sees N shared prompts (0: one prefix for all)",
    )
    add(
        "--prefix-distribution",
        default="zipf",
        choices=PREFIX_DISTRIBUTIONS,
        help="--prefix-groups: how often each prefix is taken: zipf (the k-th most popular 1/k^s as often, "
        "--prefix-zipf-exponent s) or uniform",
    )
    add("--prefix-zipf-exponent", type=float, default=1.0, help="--prefix-distribution zipf: its exponent s")
    add(
        "--prefix-image",
        action="store_true",
        default=False,
        help="--prefix-groups: the requests of one prefix share their images too (a shared image per group)",
    )
    add(
        "--min-tokens",
        type=int,
        default=None,
        help="Fewest output tokens (default: --max-tokens, i.e. exactly that many)",
    )
    add("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS, help="Most output tokens")
    add(
        "--ignore-eos",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Send ignore_eos (default: on when a minimum output is asked for)",
    )
    add("--image-width", type=int, default=DEFAULT_IMAGE_SIDE_PX, help="Image width in pixels")
    add("--image-height", type=int, default=DEFAULT_IMAGE_SIDE_PX, help="Image height in pixels")
    add("--image-format", default="RGB", help="PIL colour mode of the images (RGB, L, RGBA, ...)")
    add("--image-num", type=int, default=1, help="Images per request (0 for text only)")
    add("--image-encoding", default="png", choices=IMAGE_ENCODINGS, help="Image file format")
    add(
        "--image-content",
        default="shapes",
        choices=IMAGE_CONTENTS,
        help="shapes: evalscope's random_vl images (flat colour, 1-5 shapes, a few KB), so results compare with "
        "evalscope's; noise: incompressible pixels, the worst case to upload and decode",
    )
    add(
        "--probe-rate",
        type=float,
        default=0.0,
        help="Probes per second beside any load: small text requests on their own (--probe-prompt-length, "
        "--probe-max-tokens), recorded as class probe, kept out of the stage's figures and shown apart: what "
        "the load costs a text user",
    )
    add("--probe-prompt-length", type=int, default=64, help="A probe's prompt tokens")
    add("--probe-max-tokens", type=int, default=16, help="A probe's output tokens")
    add(
        "--image-dir",
        default="",
        help="Send your own images (PNG, JPEG, WEBP, GIF files in this directory, taken in turn) instead of "
        "synthetic ones; --image-num per request; every file is checked before load",
    )
    add(
        "--audio-dir",
        default="",
        help="Send your own clips (wav, flac, mp3, ogg files in this directory, taken in turn) instead of "
        "synthetic ones; --audio-num per request; every file is checked before load",
    )
    add("--audio-num", type=int, default=0, help="Audio clips per request, sent as input_audio (0: none)")
    add(
        "--audio-seconds",
        type=float,
        nargs="+",
        default=[DEFAULT_AUDIO_SECONDS],
        metavar="SECONDS",
        help="Each clip's length: one value, or A B for lengths drawn uniformly in [A, B]",
    )
    add("--audio-format", default="wav", choices=AUDIO_FORMATS, help="Audio file format (16 kHz mono)")
    add(
        "--audio-content",
        default="tone",
        choices=AUDIO_CONTENTS,
        help="tone (a sine), noise, or speech (espeak-ng, when installed)",
    )
    add_video_arguments(add)
    add_speech_arguments(add)
    add_conversation_arguments(add)
    add(
        "--trace",
        default="",
        metavar="FILE",
        help="Replay a trace: a Mooncake .jsonl (timestamp, input_length, output_length, hash_ids: shared ids, "
        "shared prompt blocks) or a .csv of offset_s,input_tokens,output_tokens; one open-loop stage, each "
        "request at its time (up to --max-concurrency in flight), lateness per request as for --rate",
    )
    add("--trace-speed", type=float, default=1.0, help="--trace: replay this many times faster (0.5: slower)")
    add(
        "--keep-bodies",
        action="store_true",
        default=False,
        help="Keep every request's body (bodies.<worker>.bin in the report directory) so that "
        "`omniload replay` can send exactly them again",
    )
    add(
        "--replay",
        default="",
        metavar="RUN_DIR",
        help="Send a recorded run's kept bodies at their recorded offsets, stage by stage "
        "(what `omniload replay RUN_DIR --host URL` runs)",
    )
    add(
        "--dataset",
        default="",
        metavar="FILE",
        help="Send a dataset's requests instead of synthetic prompts: .jsonl (OpenAI messages, optional "
        "max_tokens per row), .json (ShareGPT: first human turn, the reply's length as output) or .parquet "
        "(OmniBench, with its image and audio); bad rows are counted and named, never silently skipped",
    )
    add(
        "--mix",
        default="",
        metavar="FILE",
        help="A request mix: YAML or JSON naming request classes with weights, each with its own prompt range, "
        "output tokens, images, audio and video (README: Request mixes); figures per class beside the overall",
    )
    add(
        "--unique-images",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="A fresh image per request, so the server's multimodal cache cannot serve it",
    )
    add("--tokenizer-path", default="", help="Tokenizer directory or hub id (default: bundled Qwen3)")
    add("--extra-args", default="", help="JSON object merged into every request body, e.g. '{\"top_p\": 0.9}'")
    add("--temperature", type=float, default=0.0, help="Sampling temperature")
    add("--stream", action=argparse.BooleanOptionalAction, default=True, help="Stream the response (SSE)")
    add(
        "--server-profile",
        default="auto",
        choices=SERVER_PROFILES,
        help="vllm: send min_tokens/ignore_eos for exact output lengths; openai: plain OpenAI fields only; "
        "auto: send them when an exact length is asked, and drop them (with a warning) only if the server "
        "refuses them by name and they were not set by flag",
    )
    add(
        "--wait-for-server",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="Before load, wait up to this long for the server and its model to answer (/health, /v1/models), "
        "e.g. while vLLM loads the model; 0: it must answer at once",
    )
    add("--connect-timeout", type=float, default=DEFAULT_CONNECT_TIMEOUT_S, help="Seconds to connect")
    add("--read-timeout", type=float, default=DEFAULT_READ_TIMEOUT_S, help="Seconds between bytes")
    add("--total-timeout", type=float, default=DEFAULT_TOTAL_TIMEOUT_S, help="Seconds for one whole request")
    add("--seed", type=int, default=0, help="Seed for prompts and images (workers add their index)")
    add(
        "--pool-size",
        type=int,
        default=DEFAULT_POOL_SIZE,
        help="Plain runs: payloads built before load, and per refill while it runs",
    )
    add(
        "--reuse-payloads",
        action="store_true",
        default=False,
        help="Plain runs: cycle through the --pool-size payloads instead of building fresh ones (says how many "
        "requests reused one)",
    )
    add("--report-dir", default="", help=f"Where results go (default: {DEFAULT_REPORT_ROOT}/<UTC time>)")
    add(
        "--no-samples",
        action="store_true",
        default=False,
        help="report.html without OmniBench images and audio (the answers stay)",
    )
    add(
        "--parallel",
        type=int,
        nargs="+",
        default=[],
        help="Sweep: users (requests in flight) per stage, e.g. 1 5 10 50 100",
    )
    add(
        "--number",
        type=int,
        nargs="+",
        default=[],
        help="Sweep: requests per stage, paired with --parallel, e.g. 2 10 20 100 200",
    )
    add(
        "--duration",
        type=float,
        nargs="+",
        default=[],
        help="Sweep: seconds per stage (one value for all, or one per --parallel value), a soft limit: no request "
        "is sent after it and those in flight finish; with --number, whichever comes first",
    )
    add(
        "--rate",
        type=float,
        nargs="+",
        default=[],
        help="Sweep: requests per second per stage (evalscope's --rate). Closed loop: paces the stage's users "
        "(one value for all, or one per --parallel value); with --open-loop: the stage's load, paired with "
        "--number",
    )
    add(
        "--open-loop",
        action="store_true",
        default=False,
        help="Sweep: send at --rate whatever is in flight (up to --max-concurrency; past it a request counts as "
        "rejected_client_limit)",
    )
    add(
        "--max-concurrency",
        type=int,
        default=DEFAULT_MAX_CONCURRENCY,
        help="Open loop: most requests in flight (users per stage)",
    )
    add(
        "--percentiles",
        nargs="+",
        type=float,
        default=list(DEFAULT_PERCENTILES),
        metavar="P",
        help="The percentiles every output shows for latency, TTFT, TPOT and ITL, each with its 95 %% interval "
        f"(console, stages.csv, web UI, report, summary.json; each above 0, up to {MAX_PERCENTILE:g}; standard "
        "deviations beside them)",
    )
    add(
        "--slice",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="Sweep: each stage's figures per window of this many seconds too (successes/s, errors, TTFT "
        "p50/p99), in summary.json and a report chart: degradation inside long stages and soaks (0: off)",
    )
    add(
        "--num-runs",
        type=int,
        default=1,
        help="Sweep: run each stage this many times in a row (fresh payloads, the same plan); summary.json's "
        "repeated gives each stage's pooled figures and their spread between runs",
    )
    add(
        "--stop-when-saturated",
        action="store_true",
        default=False,
        help="Sweep: end it when two stages in a row added load but not throughput (RPS +<10 %%) while p50 "
        "latency grew (>+10 %%); the reason is in summary.json and the exit code is 3",
    )
    add(
        "--max-error-rate",
        type=float,
        default=0.0,
        help="Sweep: end the stage and the sweep once its failure share is above this with 95 %% confidence "
        "(Wilson's lower bound, after 10 requests or more); the reason is in summary.json and the exit code is 3",
    )
    add(
        "--arrival",
        default="poisson",
        choices=ARRIVALS,
        help="With --rate: gaps between sends: poisson (exponential), gamma (--burstiness), constant",
    )
    add(
        "--burstiness",
        type=float,
        default=1.0,
        help="With --arrival gamma: the gamma shape, vLLM's meaning (1 = Poisson, below 1 burstier, above 1 steadier)",
    )
    add(
        "--sla-auto-tune",
        action="store_true",
        default=False,
        help="Search the most load that meets --sla-params (evalscope's): double, then bisect; writes sla_summary.json",
    )
    add(
        "--sla-variable",
        default="parallel",
        choices=SLA_VARIABLES,
        help="SLA search: tune the users per stage (parallel) or the request rate (rate; users = --parallel, "
        "or --max-concurrency with --open-loop)",
    )
    add(
        "--sla-params",
        default="",
        help='SLA search: e.g. \'[{"p99_latency": "<=2"}]\' (AND in a group, '
        "OR between groups; seconds, rps/tps per second)",
    )
    add("--sla-lower-bound", type=float, default=DEFAULT_LOWER_BOUND, help="SLA search: smallest value tried")
    add("--sla-upper-bound", type=float, default=DEFAULT_UPPER_BOUND, help="SLA search: largest value tried")
    add(
        "--sla-num-runs",
        type=int,
        default=DEFAULT_NUM_RUNS,
        help="SLA search: stages per value, their metrics averaged",
    )
    add(
        "--sla-number-multiplier",
        type=float,
        default=DEFAULT_NUMBER_MULTIPLIER,
        help="SLA search: requests per stage = value x this",
    )
    add("--sleep-interval", type=float, default=DEFAULT_SLEEP_INTERVAL_S, help="Sweep: seconds between stages")
    add("--warmup-num", type=int, default=0, help="Sweep: requests per stage sent first and left out of its statistics")
    add(
        "--goodput",
        nargs="+",
        default=[],
        metavar="METRIC:MS",
        help="SLOs for goodput, vLLM's syntax: ttft:MS tpot:MS e2el:MS, and with --audio-output ttfa:MS (time to "
        "first audio) and rtf:X (real-time factor); per stage, the requests per second that met every one",
    )
    add("--metrics-host", default=DEFAULT_METRICS_HOST, help="Address of the live Prometheus metrics (master only)")
    add("--metrics-port", type=int, default=DEFAULT_METRICS_PORT, help="Port of the live metrics (0: none)")
    add(
        "--metrics-linger",
        type=float,
        default=0.0,
        help="Seconds to keep serving metrics after the run, so the last values get scraped",
    )
    add(
        "--grafana-url",
        default="",
        is_secret=True,
        help="Annotate each stage's start and end on this Grafana (credentials: "
        "$GRAFANA_TOKEN or $GRAFANA_USER/$GRAFANA_PASSWORD)",
    )
    add(
        "--omnibench",
        action="store_true",
        default=False,
        help="After the load, run the OmniBench accuracy pass against the same endpoint",
    )
    add_omnibench_arguments(add, AFTER_LOAD_PREFIX)
    group_flags(parser, added)


# The help's sections for omniload's flags, in order: (title, dest prefixes or names).
FLAG_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "omniload: the server",
        (
            "model",
            "api_key",
            "api_path",
            "server_profile",
            "wait_for_server",
            "connect_timeout",
            "read_timeout",
            "total_timeout",
            "tokenizer_path",
        ),
    ),
    (
        "omniload: prompts and output",
        (
            "min_prompt_length",
            "max_prompt_length",
            "prefix_length",
            "prefix_groups",
            "prefix_distribution",
            "prefix_zipf_exponent",
            "prefix_image",
            "min_tokens",
            "max_tokens",
            "ignore_eos",
            "temperature",
            "stream",
            "extra_args",
            "seed",
            "mix",
            "dataset",
            "trace",
            "trace_speed",
            "keep_bodies",
            "replay",
        ),
    ),
    ("omniload: images, audio and video", ("image_", "unique_images", "audio_", "video_", "voice")),
    ("omniload: conversations", ("multi_turn", "min_turns", "max_turns", "think_time", "turn_prompt_length")),
    (
        "omniload: sweeps and rates",
        (
            "parallel",
            "number",
            "duration",
            "rate",
            "open_loop",
            "max_concurrency",
            "max_error_rate",
            "stop_when_saturated",
            "num_runs",
            "slice",
            "arrival",
            "burstiness",
            "sleep_interval",
            "warmup_num",
            "goodput",
            "pool_size",
            "reuse_payloads",
            "probe_",
        ),
    ),
    ("omniload: SLA search", ("sla_",)),
    (
        "omniload: results, live metrics and Grafana",
        ("report_dir", "percentiles", "no_samples", "metrics_", "grafana_url"),
    ),
    ("omniload: OmniBench after the load", ("omnibench",)),
)


def group_flags(parser: Any, dests: set[str]) -> None:
    """Show omniload's flags (`dests`) under FLAG_GROUPS in --help: argparse prints a flag in its group's section."""
    ours = [action for action in parser._actions if action.dest in dests]
    for title, names in FLAG_GROUPS:
        group = parser.add_argument_group(title)
        for action in ours:
            if any(
                action.dest == name or (name.endswith("_") or name == "omnibench") and action.dest.startswith(name)
                for name in names
            ):
                for container in parser._action_groups:
                    if action in container._group_actions and container is not group:
                        container._group_actions.remove(action)
                if action not in group._group_actions:
                    group._group_actions.append(action)


@dataclass(frozen=True)
class ConnectionSpec:
    """Where requests go and how long to wait; read by the client (harness/load/client.py)."""

    endpoint: Endpoint
    connect_timeout_s: float
    read_timeout_s: float  # most seconds between two received bytes
    total_timeout_s: float  # most seconds for one whole request, from before connecting
    wait_for_server_s: float = 0.0  # before load: how long to wait for the server and its model (--wait-for-server)

    @staticmethod
    def from_flags(parsed: argparse.Namespace, host: str | None) -> ConnectionSpec:
        base_url = checked_base_url(host, "--host")
        if parsed.api_path.startswith(OPENAI_VERSION_SEGMENT + "/"):
            base_url = server_root(base_url)  # --host http://h:8000/v1 means the server at http://h:8000
        if not parsed.model:
            raise BadOption("--model", "required (the served model name, as in /v1/models)")
        if not parsed.api_path.startswith("/"):
            raise BadOption("--api-path", f"{parsed.api_path!r} must start with '/'")
        for flag, seconds in (
            ("--connect-timeout", parsed.connect_timeout),
            ("--read-timeout", parsed.read_timeout),
            ("--total-timeout", parsed.total_timeout),
        ):
            if not 0 < seconds < math.inf:
                raise BadOption(flag, f"{seconds} must be more than 0 seconds")
        if not 0 <= parsed.wait_for_server < math.inf:
            raise BadOption("--wait-for-server", f"{parsed.wait_for_server} must be 0 or more seconds")
        return ConnectionSpec(
            Endpoint(base_url, parsed.model, parsed.api_key or "", parsed.api_path),
            parsed.connect_timeout,
            parsed.read_timeout,
            parsed.total_timeout,
            parsed.wait_for_server,
        )


@dataclass(frozen=True)
class PayloadSpec:
    """What each request carries; read by the payload pool (harness/load/payloads.py).

    Token counts in tokens, sizes in pixels.
    """

    min_prompt_tokens: int
    max_prompt_tokens: int
    prefix_tokens: int
    min_tokens: int
    max_tokens: int
    ignore_eos: bool
    image_width_px: int
    image_height_px: int
    image_mode: str  # PIL colour mode (--image-format, evalscope's meaning)
    image_num: int
    image_encoding: str
    image_content: str
    unique_images: bool
    tokenizer_path: str | None  # None: the bundled Qwen3 tokenizer
    extra_body: dict[str, Any]
    temperature: float
    stream: bool
    seed: int
    pool_size: int  # payloads built for a plain (budgetless) run, and per refill
    reuse_payloads: bool = False  # a plain run cycles through its pool instead of building fresh payloads
    server_profile: str = "auto"  # auto (resolved before load), vllm or openai
    audio_num: int = 0  # clips per request
    audio_seconds: tuple[float, float] = (
        DEFAULT_AUDIO_SECONDS,
        DEFAULT_AUDIO_SECONDS,
    )  # each clip's length: [min, max]
    audio_format: str = "wav"
    audio_content: str = "tone"
    explicit_extensions: tuple[str, ...] = ()  # vLLM extension fields the user asked for by flag (never dropped)
    probe_rate_rps: float = 0.0  # --probe-rate: probes per second (0: none)
    probe_prompt_tokens: int = 64
    probe_max_tokens: int = 16
    image_dir: str | None = None  # the user's images (--image-dir), instead of synthetic ones
    audio_dir: str | None = None  # the user's clips (--audio-dir)
    video: VideoSpec = field(default_factory=VideoSpec)  # --video-*: none by default
    speech: SpeechSpec = field(default_factory=SpeechSpec)  # --audio-output: a spoken answer asked for
    mix: tuple[RequestClass, ...] = ()  # --mix: request classes drawn by weight (empty: one class, "load")
    conversation: ConversationSpec = field(default_factory=ConversationSpec)  # --multi-turn (off: one turn)
    prefix_groups: int = 0  # --prefix-groups: shared prefixes taken by popularity (0: one for all)
    prefix_distribution: str = "zipf"
    prefix_zipf_exponent: float = 1.0
    prefix_image: bool = False  # a group's requests share their images
    dataset: str | None = None  # --dataset: the file whose rows are sent (prompts and media from the data)
    trace: str | None = None  # --trace: request i has the trace's row i's lengths and shared blocks
    keep_bodies: bool = False  # --keep-bodies: every sent body kept for a replay
    replay: str | None = None  # --replay: a run whose kept bodies are sent again

    @property
    def vllm_extensions(self) -> bool:
        """Send vLLM's min_tokens and ignore_eos (unresolved "auto" counts as vLLM, the reference)."""
        return self.server_profile != "openai"

    def body_fields(self) -> dict[str, Any]:
        """Every field of a request body but `model` and `messages`, as sent (summary.json's config shows them)."""
        fields: dict[str, Any] = {"max_tokens": self.max_tokens, "temperature": self.temperature, "stream": self.stream}
        if self.vllm_extensions and self.min_tokens:
            fields["min_tokens"] = self.min_tokens
        if self.vllm_extensions and self.ignore_eos:
            fields["ignore_eos"] = True
        if self.stream:
            fields["stream_options"] = {"include_usage": True}
        fields.update(self.video.body_fields())
        fields.update(self.speech.body_fields(self.server_profile))
        fields.update(self.extra_body)
        return fields

    @property
    def enforced_min_tokens(self) -> int:
        """The fewest output tokens the server was told to produce (0 when it cannot be told)."""
        return self.min_tokens if self.vllm_extensions else 0

    @staticmethod
    def from_flags(parsed: argparse.Namespace) -> PayloadSpec:
        at_least("--min-prompt-length", parsed.min_prompt_length, 1)
        for flag, tokens in (
            ("--max-prompt-length", parsed.max_prompt_length),
            ("--prefix-length", parsed.prefix_length),
            ("--max-tokens", parsed.max_tokens),
        ):
            if tokens > MAX_PROMPT_TOKENS:
                raise BadOption(flag, f"{tokens} is more than {MAX_PROMPT_TOKENS} tokens")
        at_least("--max-prompt-length", parsed.max_prompt_length, parsed.min_prompt_length, "--min-prompt-length")
        at_least("--prefix-length", parsed.prefix_length, 0)
        at_least("--max-tokens", parsed.max_tokens, 1)
        min_tokens = parsed.max_tokens if parsed.min_tokens is None else parsed.min_tokens
        at_least("--min-tokens", min_tokens, 0)
        if min_tokens > parsed.max_tokens:
            raise BadOption("--min-tokens", f"{min_tokens} is more than --max-tokens {parsed.max_tokens}")
        for flag, side_px in (("--image-width", parsed.image_width), ("--image-height", parsed.image_height)):
            at_least(flag, side_px, 1)
            if side_px > MAX_IMAGE_SIDE_PX:
                raise BadOption(flag, f"{side_px} is more than {MAX_IMAGE_SIDE_PX} pixels")
        if parsed.image_width * parsed.image_height > MAX_IMAGE_PIXELS:
            raise BadOption(
                "--image-width",
                f"{parsed.image_width}x{parsed.image_height} is more than "
                f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixels per image",
            )
        at_least("--image-num", parsed.image_num, 0)
        if parsed.image_num > MAX_IMAGE_NUM:
            raise BadOption("--image-num", f"{parsed.image_num} is more than {MAX_IMAGE_NUM} images per request")
        if parsed.image_encoding not in IMAGE_ENCODINGS:
            raise BadOption("--image-encoding", f"{parsed.image_encoding!r} is not one of {', '.join(IMAGE_ENCODINGS)}")
        if parsed.image_content not in IMAGE_CONTENTS:
            raise BadOption("--image-content", f"{parsed.image_content!r} is not one of {', '.join(IMAGE_CONTENTS)}")
        modes = ENCODABLE_MODES[parsed.image_encoding]
        if parsed.image_format not in modes:
            raise BadOption(
                "--image-format",
                f"PIL mode {parsed.image_format!r} cannot be written as "
                f"{parsed.image_encoding} (use one of {', '.join(modes)})",
            )
        if not 0 <= parsed.temperature < math.inf:
            raise BadOption("--temperature", f"{parsed.temperature} must be a finite number, 0 or more")
        at_least("--pool-size", parsed.pool_size, 1)
        at_least("--seed", parsed.seed, 0)
        audio_seconds = _audio_seconds(parsed)
        explicit = tuple(
            name for name, value in (("min_tokens", parsed.min_tokens), ("ignore_eos", parsed.ignore_eos)) if value
        )
        if explicit and parsed.server_profile == "openai":
            flag = "--" + explicit[0].replace("_", "-")
            raise BadOption(
                flag,
                "is not sent with --server-profile openai (plain OpenAI fields only); use "
                "--server-profile vllm or auto, or drop the flag",
            )
        return PayloadSpec(
            min_prompt_tokens=parsed.min_prompt_length,
            max_prompt_tokens=parsed.max_prompt_length,
            prefix_tokens=parsed.prefix_length,
            min_tokens=min_tokens,
            max_tokens=parsed.max_tokens,
            ignore_eos=parsed.ignore_eos if parsed.ignore_eos is not None else min_tokens > 0,
            image_width_px=parsed.image_width,
            image_height_px=parsed.image_height,
            image_mode=parsed.image_format,
            image_num=parsed.image_num,
            image_encoding=parsed.image_encoding,
            image_content=parsed.image_content,
            unique_images=parsed.unique_images,
            tokenizer_path=parsed.tokenizer_path or None,
            extra_body=_extra_body(parsed.extra_args),
            temperature=parsed.temperature,
            stream=parsed.stream,
            seed=parsed.seed,
            pool_size=parsed.pool_size,
            reuse_payloads=parsed.reuse_payloads,
            server_profile=parsed.server_profile,
            audio_num=parsed.audio_num,
            audio_seconds=audio_seconds,
            audio_format=parsed.audio_format,
            audio_content=parsed.audio_content,
            explicit_extensions=explicit,
            probe_rate_rps=_probe_rate(parsed),
            probe_prompt_tokens=parsed.probe_prompt_length,
            probe_max_tokens=parsed.probe_max_tokens,
            image_dir=parsed.image_dir or None,
            audio_dir=parsed.audio_dir or None,
            video=video_spec(parsed),
            speech=speech_spec(parsed),
            mix=read_mix(parsed.mix) if parsed.mix else (),
            conversation=conversation_spec(parsed),
            prefix_groups=_prefix_groups(parsed),
            prefix_distribution=parsed.prefix_distribution,
            prefix_zipf_exponent=float(parsed.prefix_zipf_exponent),
            prefix_image=parsed.prefix_image,
            dataset=_dataset(parsed),
            trace=parsed.trace or None,
            keep_bodies=parsed.keep_bodies,
            replay=parsed.replay or None,
        )


MAX_PREFIX_GROUPS = 100_000
MAX_SLICE_S = 86_400.0
MAX_NUM_RUNS = 100
MAX_PERCENTILES_SHOWN = 8  # --percentiles: each is a column per timing metric in every table


def _dataset(parsed: argparse.Namespace) -> str | None:
    """--dataset: a readable file, not combined with what builds synthetic prompts of its own."""
    if not parsed.dataset:
        return None
    refuse_given(
        (("--mix", parsed.mix), ("--prefix-groups", parsed.prefix_groups), ("--multi-turn", parsed.multi_turn)),
        "is not combined with --dataset (the dataset's rows are the requests)",
    )
    if not os.path.isfile(parsed.dataset):
        raise BadOption("--dataset", f"{parsed.dataset} is not a file")
    return str(parsed.dataset)


def _prefix_groups(parsed: argparse.Namespace) -> int:
    """--prefix-groups checked: it needs a prefix, and no --mix (whose classes draw their own)."""
    groups = parsed.prefix_groups
    if not groups:
        return 0
    at_least("--prefix-groups", groups, 1)
    if groups > MAX_PREFIX_GROUPS:
        raise BadOption("--prefix-groups", f"{groups} is more than {MAX_PREFIX_GROUPS}")
    if parsed.prefix_length <= 0:
        raise BadOption("--prefix-groups", "needs --prefix-length (the tokens each group's prefix has)")
    if parsed.mix:
        raise BadOption("--prefix-groups", "is not combined with --mix (a mix's classes build their own prompts)")
    if not (math.isfinite(parsed.prefix_zipf_exponent) and 0 < parsed.prefix_zipf_exponent <= 10):
        raise BadOption("--prefix-zipf-exponent", f"{parsed.prefix_zipf_exponent:g} must be in (0, 10]")
    return int(groups)


MAX_PROBE_RATE_RPS = 100.0  # probes measure a text user's experience; more would be load of their own


def _probe_rate(parsed: argparse.Namespace) -> float:
    """--probe-rate checked (0: none), with its prompt and output lengths."""
    if not 0 <= parsed.probe_rate <= MAX_PROBE_RATE_RPS:
        raise BadOption(
            "--probe-rate", f"{parsed.probe_rate:g} is outside [0, {MAX_PROBE_RATE_RPS:g}] probes per second"
        )
    at_least("--probe-prompt-length", parsed.probe_prompt_length, 9)  # Qwen3's template alone takes 8
    at_least("--probe-max-tokens", parsed.probe_max_tokens, 1)
    return float(parsed.probe_rate)


def _audio_seconds(parsed: argparse.Namespace) -> tuple[float, float]:
    """--audio-num and --audio-seconds checked: (shortest, longest) clip in seconds."""
    at_least("--audio-num", parsed.audio_num, 0)
    if parsed.audio_num > MAX_AUDIO_NUM:
        raise BadOption("--audio-num", f"{parsed.audio_num} is more than {MAX_AUDIO_NUM} clips per request")
    if len(parsed.audio_seconds) not in (1, 2):
        raise BadOption("--audio-seconds", "one length, or two (A B: drawn in [A, B])")
    shortest, longest = parsed.audio_seconds[0], parsed.audio_seconds[-1]
    if not 0 < shortest <= longest <= MAX_AUDIO_SECONDS:
        raise BadOption(
            "--audio-seconds",
            f"{shortest:g} {longest:g}: lengths above 0, at most {MAX_AUDIO_SECONDS:g} s, shortest first",
        )
    if parsed.audio_num and parsed.audio_content == "speech" and not speech_available():
        raise BadOption("--audio-content", "speech needs espeak-ng (apt-get install -y espeak-ng), or use tone/noise")
    if parsed.audio_num and parsed.audio_format.upper() not in soundfile.available_formats():
        raise BadOption("--audio-format", f"{parsed.audio_format} cannot be written by this libsndfile")
    return shortest, longest


@dataclass(frozen=True)
class Stage:
    """One level of a sweep: it ends after `number` requests, or after `duration_s`, whichever comes first."""

    parallel: int  # users, i.e. most requests in flight (open loop: --max-concurrency)
    number: int | None  # requests sent (measured ones; warm-ups come on top); None: until duration_s
    duration_s: float | None = None  # a soft limit: no request is sent after it, those in flight finish
    rate_rps: float | None = None  # sends scheduled at this rate (harness/master/arrivals.py); None: at once
    open_loop: bool = False  # a send finds no free user at its due time: rejected_client_limit
    offsets_s: tuple[float, ...] | None = None  # --trace: each request's due time after the stage starts
    run: int = 0  # --num-runs: which repeat of its planned stage this is (0: the first)

    @property
    def label(self) -> str:
        """The stage's size for people and metric labels: "100" requests or "60s"."""
        return str(self.number) if self.number is not None else f"{self.duration_s:g}s"


@dataclass(frozen=True)
class SweepSpec:
    """The stages the master runs (harness/master/sweep.py); empty for a plain Locust run."""

    stages: tuple[Stage, ...] = ()
    sleep_interval_s: float = DEFAULT_SLEEP_INTERVAL_S
    warmup_num: int = 0  # per stage, sent first and left out of its statistics
    arrival: str = "poisson"  # with a rate: poisson | gamma | constant
    burstiness: float = 1.0  # the gamma shape
    sla: SlaSpec | None = None  # --sla-auto-tune: `stages` holds only the first; the search picks the rest
    max_error_rate: float = 0.0  # --max-error-rate: a stage whose failure share is surely above it ends the sweep
    slice_s: float | None = None  # --slice: each stage's figures per window too
    stop_when_saturated: bool = False  # --stop-when-saturated
    num_runs: int = 1  # --num-runs: each planned stage run this many times in a row

    @property
    def requests_budget(self) -> int | None:
        """Requests the whole sweep sends (warm-ups included); None for a plain run."""
        if not self.stages or self.sla is not None or any(stage.number is None for stage in self.stages):
            return None  # a plain run, or a stage that lasts a time: payloads are built as it goes
        return sum((stage.number or 0) + self.warmup_num for stage in self.stages)

    @staticmethod
    def from_flags(parsed: argparse.Namespace) -> SweepSpec:
        sla = sla_spec(parsed) if parsed.sla_auto_tune else None
        if parsed.trace and parsed.replay:
            raise BadOption("--replay", "is not combined with --trace")
        if parsed.replay:
            stages: tuple[Stage, ...] = replay_sweep(parsed)
        elif parsed.trace:
            stages = (trace_stage(parsed),)
        elif sla is not None:
            stages = (sla_stage(sla, sla.start),)  # the search (master) picks the rest
        elif parsed.open_loop:
            stages = open_loop_stages(
                parsed.rate, parsed.number, parsed.duration, parsed.parallel, parsed.max_concurrency
            )
        else:
            stages = stages_from(parsed.parallel, parsed.number, parsed.duration, parsed.rate)
        if not 0 <= parsed.sleep_interval < math.inf:
            raise BadOption("--sleep-interval", f"{parsed.sleep_interval} must be 0 or more seconds")
        at_least("--warmup-num", parsed.warmup_num, 0)
        if not MIN_BURSTINESS <= parsed.burstiness <= MAX_BURSTINESS:
            raise BadOption(
                "--burstiness", f"{parsed.burstiness:g} is outside [{MIN_BURSTINESS:g}, {MAX_BURSTINESS:g}]"
            )
        if parsed.burstiness != 1.0 and parsed.arrival != "gamma":
            raise BadOption("--burstiness", f"only shapes --arrival gamma, not {parsed.arrival}")
        refuse_without_effect(parsed)
        if not 0 <= parsed.max_error_rate < 1:
            raise BadOption("--max-error-rate", f"{parsed.max_error_rate:g} must be a share in [0, 1)")
        if parsed.max_error_rate and not stages:
            raise BadOption("--max-error-rate", "has no effect without a sweep (--parallel/--number, --rate, ...)")
        at_least("--num-runs", parsed.num_runs, 1)
        if parsed.num_runs > 1:
            if parsed.num_runs > MAX_NUM_RUNS:
                raise BadOption("--num-runs", f"{parsed.num_runs} is more than {MAX_NUM_RUNS} runs")
            for flag, given in (
                ("--sla-auto-tune", parsed.sla_auto_tune),
                ("--trace", parsed.trace),
                ("--replay", parsed.replay),
            ):
                if given:
                    raise BadOption("--num-runs", f"is not combined with {flag}")
            if not stages:
                raise BadOption("--num-runs", "has no effect without a sweep (--parallel/--number, --rate, ...)")
            stages = tuple(dataclasses.replace(stage, run=run) for stage in stages for run in range(parsed.num_runs))
        if not (math.isfinite(parsed.slice) and 0 <= parsed.slice <= MAX_SLICE_S):
            raise BadOption("--slice", f"{parsed.slice:g} must be from 0 (off) to {MAX_SLICE_S:g} seconds")
        if parsed.slice and not stages:
            raise BadOption("--slice", "has no effect without a sweep (--parallel/--number, --rate, ...)")
        return SweepSpec(
            stages,
            parsed.sleep_interval,
            parsed.warmup_num,
            parsed.arrival,
            parsed.burstiness,
            sla,
            parsed.max_error_rate,
            parsed.slice or None,
            parsed.stop_when_saturated,
            parsed.num_runs,
        )


@dataclass(frozen=True)
class MetricsSpec:
    """The master's live Prometheus metrics and Grafana annotations (harness/master/metrics.py)."""

    host: str = DEFAULT_METRICS_HOST
    port: int = DEFAULT_METRICS_PORT  # 0: no live metrics
    linger_s: float = 0.0  # seconds to keep serving after the run
    grafana_url: str | None = field(default=None, repr=False)  # may carry credentials

    @staticmethod
    def from_flags(parsed: argparse.Namespace) -> MetricsSpec:
        if not 0 <= parsed.metrics_port <= 65535:
            raise BadOption("--metrics-port", f"{parsed.metrics_port} is not a port number (0 turns metrics off)")
        if not 0 <= parsed.metrics_linger < math.inf:
            raise BadOption("--metrics-linger", f"{parsed.metrics_linger} must be 0 or more seconds")
        grafana_url = parsed.grafana_url or None
        if grafana_url is not None:
            checked_base_url(grafana_url, "--grafana-url", credentials_allowed=True)
        return MetricsSpec(parsed.metrics_host, parsed.metrics_port, parsed.metrics_linger, grafana_url)


# --goodput's metric names (vLLM's) and the record field each one bounds.
GOODPUT_FIELDS = {"ttft": "ttft_s", "tpot": "tpot_s", "e2el": "latency_s", "ttfa": "ttfa_s", "rtf": "audio_rtf"}
GOODPUT_RATIOS = frozenset({"rtf"})  # bounded by a plain number, not milliseconds


def goodput_slos(values: list[str]) -> dict[str, float]:
    """--goodput ttft:100 tpot:50 rtf:0.8 -> {"ttft_s": 0.1, "tpot_s": 0.05, "audio_rtf": 0.8} (record field ->
    most seconds, or the most real-time factor). ttfa and rtf hold only for answers that spoke (--audio-output)."""
    slos: dict[str, float] = {}
    for value in values:
        name, _, bound = value.partition(":")
        if name not in GOODPUT_FIELDS:
            raise BadOption("--goodput", f"{value!r}: the metric must be one of {', '.join(GOODPUT_FIELDS)}")
        unit = "a real-time factor" if name in GOODPUT_RATIOS else "milliseconds"
        try:
            number = float(bound)
        except ValueError:
            raise BadOption(
                "--goodput", f"{value!r}: expected METRIC:BOUND ({unit}), e.g. ttft:200 or rtf:0.8"
            ) from None
        if not 0 < number < math.inf:
            raise BadOption("--goodput", f"{value!r}: {unit} must be more than 0")
        slos[GOODPUT_FIELDS[name]] = number if name in GOODPUT_RATIOS else number / 1000
    return slos


def percentiles(values: list[float]) -> tuple[float, ...]:
    """--percentiles, sorted and without repeats; BadOption for one outside (0, MAX_PERCENTILE]."""
    for value in values:
        if not 0 < value <= MAX_PERCENTILE:
            raise BadOption("--percentiles", f"{value:g} is not a percentile above 0 and up to {MAX_PERCENTILE:g}")
    if len(set(values)) > MAX_PERCENTILES_SHOWN:
        raise BadOption("--percentiles", f"{len(set(values))} percentiles: at most {MAX_PERCENTILES_SHOWN}")
    return tuple(sorted(set(values)))


@dataclass(frozen=True)
class LoadOptions:
    """Everything a run was asked for, validated, split by the part that reads it."""

    connection: ConnectionSpec
    payload: PayloadSpec
    sweep: SweepSpec
    metrics: MetricsSpec
    report_dir: str
    omnibench: OmniBenchConfig | None = None  # the accuracy pass after the load, if asked for
    embed_samples: bool = True  # OmniBench media in report.html
    goodput_slos: dict[str, float] = field(default_factory=dict)  # record field -> most seconds (--goodput)
    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES  # --percentiles: what every table shows
    scrape_server_metrics: bool = False  # the server serves vLLM's /metrics (found before load): kept for the report

    @property
    def endpoint(self) -> Endpoint:
        return self.connection.endpoint

    def public_config(self) -> dict[str, Any]:
        """The options as they go into reports: secrets left out, one flat level per part."""
        endpoint = self.connection.endpoint
        config: dict[str, Any] = {
            "host": endpoint.base_url,
            "model": endpoint.model,
            "api_path": endpoint.api_path,
            "connect_timeout_s": self.connection.connect_timeout_s,
            "read_timeout_s": self.connection.read_timeout_s,
            "total_timeout_s": self.connection.total_timeout_s,
            "wait_for_server_s": self.connection.wait_for_server_s,
            **asdict(self.payload),
            "request_fields": self.payload.body_fields(),
            "report_dir": self.report_dir,
            "stages": [[stage.parallel, stage.number] for stage in self.sweep.stages],
            "stage_rates_rps": [stage.rate_rps for stage in self.sweep.stages],
            "open_loop": any(stage.open_loop for stage in self.sweep.stages),
            "arrival": self.sweep.arrival,
            "burstiness": self.sweep.burstiness,
            "sleep_interval_s": self.sweep.sleep_interval_s,
            "warmup_num": self.sweep.warmup_num,
            "metrics_host": self.metrics.host,
            "metrics_port": self.metrics.port,
            "metrics_linger_s": self.metrics.linger_s,
            "omnibench": asdict(self.omnibench) if self.omnibench is not None else None,
            "goodput_slos_s": dict(self.goodput_slos),
            "percentiles": list(self.percentiles),
        }
        # what the server was told, not what was asked before the profile was known
        config.update(
            min_tokens=self.payload.enforced_min_tokens,
            ignore_eos=self.payload.ignore_eos and self.payload.vllm_extensions,
        )
        return config


def load_options(parsed: argparse.Namespace, host: str | None) -> LoadOptions:
    """Validate Locust's parsed options; raises BadOption naming the first bad flag."""
    options = LoadOptions(
        connection=ConnectionSpec.from_flags(parsed, host),
        payload=PayloadSpec.from_flags(parsed),
        sweep=SweepSpec.from_flags(parsed),
        metrics=MetricsSpec.from_flags(parsed),
        report_dir=parsed.report_dir or default_report_dir(),
        omnibench=omnibench_config(parsed, AFTER_LOAD_PREFIX) if parsed.omnibench else None,
        embed_samples=not parsed.no_samples,
        goodput_slos=goodput_slos(parsed.goodput),
        percentiles=percentiles(parsed.percentiles),
    )
    check_pool_size(options.payload, options.sweep)
    return options


def check_pool_size(payload: PayloadSpec, sweep: SweepSpec) -> None:
    """Refuse payloads that would not fit in memory before load (BadOption naming the flag to lower)."""
    count = sweep.requests_budget or payload.pool_size
    channels = len(payload.image_mode) if payload.image_mode.isupper() else 4  # RGB 3, RGBA 4, L 1, I;16 ...
    image_bytes = payload.image_num * payload.image_width_px * payload.image_height_px * channels * 4 / 3
    if payload.image_content != "noise" or not payload.unique_images:
        image_bytes /= 100 if payload.image_content != "noise" else max(1, count)  # shapes compress; shared: once
    text_bytes = (payload.max_prompt_tokens + payload.prefix_tokens) * 8  # a token is a few bytes of text
    audio_bytes = payload.audio_num * payload.audio_seconds[1] * SAMPLE_RATE_HZ * 2 * 4 / 3  # 16-bit PCM, base64
    extra_bytes = len(json.dumps(payload.extra_body))  # merged into every body
    video_bytes = payload.video.num * payload.video.raw_bytes() * 4 / 3
    if payload.video.content != "noise":
        video_bytes /= 100  # shapes compress
    total_bytes = count * (image_bytes + text_bytes + audio_bytes + extra_bytes + video_bytes)
    limit_bytes = MAX_POOL_MEMORY_SHARE * os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if total_bytes > limit_bytes:
        flag = max(
            (image_bytes, "--image-width"),
            (text_bytes, "--max-prompt-length"),
            (audio_bytes, "--audio-seconds"),
            (extra_bytes, "--extra-args"),
            (video_bytes, "--video-seconds"),
        )[1]
        raise BadOption(
            flag,
            f"{count} payloads of this size need about {total_bytes / 1024**3:.0f} GiB before load "
            f"(limit {limit_bytes / 1024**3:.0f} GiB, half this machine's memory); use smaller or fewer images, "
            "shorter prompts, "
            "or a smaller --pool-size / --number",
        )


def stages_from(
    parallel: list[int], number: list[int], duration: list[float] | None = None, rate: list[float] | None = None
) -> tuple[Stage, ...]:
    """--parallel and --number zipped pairwise, as evalscope perf does; --duration and --rate per stage or for all."""
    duration, rate = duration or [], rate or []
    if not parallel and not number and not duration and not rate:
        return ()
    if not parallel:
        raise BadOption(
            "--parallel",
            "required with --number, --duration or --rate (users per stage; --open-loop sends at --rate without users)",
        )
    numbers, durations = paired_with("--parallel", len(parallel), number, duration)
    rates = per_stage("--rate", rate, len(parallel), "--parallel", (MIN_RATE_RPS, MAX_RATE_RPS))
    for users in parallel:
        at_least("--parallel", users, 1)
        if users > MAX_USERS:
            raise BadOption("--parallel", f"{users} is more than {MAX_USERS} users per stage")
    return tuple(
        Stage(users, requests, seconds, rps)
        for users, requests, seconds, rps in zip(parallel, numbers, durations, rates, strict=False)
    )


def open_loop_stages(
    rate: list[float], number: list[int], duration: list[float], parallel: list[int], max_concurrency: int
) -> tuple[Stage, ...]:
    """--open-loop: --rate and --number zipped pairwise (evalscope's open loop); users = --max-concurrency."""
    if not rate:
        raise BadOption("--rate", "required with --open-loop (requests per second per stage)")
    if parallel:
        raise BadOption(
            "--parallel", "not with --open-loop: the rate sets the load, --max-concurrency caps requests in flight"
        )
    numbers, durations = paired_with("--rate", len(rate), number, duration)
    at_least("--max-concurrency", max_concurrency, 1)
    if max_concurrency > MAX_USERS:
        raise BadOption("--max-concurrency", f"{max_concurrency} is more than {MAX_USERS} users")
    rates = per_stage("--rate", rate, len(rate), "--rate", (MIN_RATE_RPS, MAX_RATE_RPS))
    return tuple(
        Stage(max_concurrency, requests, seconds, rps, open_loop=True)
        for requests, seconds, rps in zip(numbers, durations, rates, strict=False)
    )


def sla_spec(parsed: argparse.Namespace) -> SlaSpec:
    """--sla-*: the search's variable, groups, bounds and stage shape (evalscope's flags)."""
    groups = parse_sla_params(parsed.sla_params) if parsed.sla_params else None
    if groups is None:
        raise BadOption("--sla-params", 'required with --sla-auto-tune, e.g. \'[{"p99_latency": "<=2"}]\'')
    lower, upper = parsed.sla_lower_bound, parsed.sla_upper_bound
    if not 0 < lower <= upper < math.inf:
        raise BadOption("--sla-upper-bound", f"{upper:g} must be at least --sla-lower-bound ({lower:g}), both above 0")
    variable = parsed.sla_variable
    if variable == "parallel" and not 1 <= lower <= upper <= MAX_USERS:
        raise BadOption(
            "--sla-lower-bound", f"[{lower:g}, {upper:g}] users: the search tunes whole users, from 1 to {MAX_USERS}"
        )
    if variable == "rate" and not MIN_RATE_RPS <= lower <= upper <= MAX_RATE_RPS:
        raise BadOption(
            "--sla-lower-bound", f"[{lower:g}, {upper:g}] req/s: rates from {MIN_RATE_RPS:g} to {MAX_RATE_RPS:g}"
        )
    at_least("--sla-num-runs", parsed.sla_num_runs, 1)
    if not 0 < parsed.sla_number_multiplier < math.inf:
        raise BadOption("--sla-number-multiplier", f"{parsed.sla_number_multiplier:g} must be more than 0")
    if parsed.duration:
        raise BadOption(
            "--duration", "not with --sla-auto-tune (each value runs value x --sla-number-multiplier requests)"
        )
    starts = parsed.parallel if variable == "parallel" else parsed.rate
    start = float(starts[0]) if starts else lower
    if not lower <= start <= upper:
        raise BadOption(
            "--parallel" if variable == "parallel" else "--rate",
            f"the search starts at {start:g}, outside [{lower:g}, {upper:g}] (--sla-lower/upper-bound)",
        )
    users = parsed.max_concurrency if parsed.open_loop else (parsed.parallel[0] if parsed.parallel else 0)
    if variable == "rate" and users < 1:
        raise BadOption(
            "--parallel", "required with --sla-variable rate: the users that send at each rate (or --open-loop)"
        )
    if variable == "parallel" and parsed.open_loop:
        raise BadOption("--open-loop", "tunes a rate: use --sla-variable rate")
    return SlaSpec(
        variable,
        groups,
        start,
        lower,
        upper,
        parsed.sla_num_runs,
        parsed.sla_number_multiplier,
        users,
        parsed.open_loop,
    )


# Flags that only shape another flag's work: (flag, dest, default, what it needs, is it there?).
_NEEDS: tuple[tuple[str, str, Any, str, Any], ...] = (
    *(
        (f"--{dest.replace('_', '-')}", dest, default, "--sla-auto-tune", lambda parsed: parsed.sla_auto_tune)
        for dest, default in (
            ("sla_params", ""),
            ("sla_variable", "parallel"),
            ("sla_lower_bound", DEFAULT_LOWER_BOUND),
            ("sla_upper_bound", DEFAULT_UPPER_BOUND),
            ("sla_num_runs", DEFAULT_NUM_RUNS),
            ("sla_number_multiplier", DEFAULT_NUMBER_MULTIPLIER),
        )
    ),
    ("--arrival", "arrival", "poisson", "--rate", lambda parsed: parsed.rate or parsed.sla_variable == "rate"),
    ("--burstiness", "burstiness", 1.0, "--rate", lambda parsed: parsed.rate or parsed.sla_variable == "rate"),
    ("--max-concurrency", "max_concurrency", DEFAULT_MAX_CONCURRENCY, "--open-loop", lambda parsed: parsed.open_loop),
    ("--image-dir", "image_dir", "", "--image-num 1 or more", lambda parsed: parsed.image_num > 0),
    ("--probe-prompt-length", "probe_prompt_length", 64, "--probe-rate", lambda parsed: parsed.probe_rate > 0),
    ("--probe-max-tokens", "probe_max_tokens", 16, "--probe-rate", lambda parsed: parsed.probe_rate > 0),
    ("--audio-dir", "audio_dir", "", "--audio-num 1 or more", lambda parsed: parsed.audio_num > 0),
    ("--prefix-distribution", "prefix_distribution", "zipf", "--prefix-groups", lambda parsed: parsed.prefix_groups),
    ("--trace-speed", "trace_speed", 1.0, "--trace", lambda parsed: parsed.trace),
    ("--prefix-zipf-exponent", "prefix_zipf_exponent", 1.0, "--prefix-groups", lambda parsed: parsed.prefix_groups),
    ("--prefix-image", "prefix_image", False, "--prefix-groups", lambda parsed: parsed.prefix_groups),
    *(
        (flag, dest, default, "--video-num 1 or more", lambda parsed: parsed.video_num > 0)
        for flag, dest, default in VIDEO_SHAPING_FLAGS
    ),
    *(
        (flag, dest, default, "--multi-turn", lambda parsed: parsed.multi_turn)
        for flag, dest, default in CONVERSATION_SHAPING_FLAGS
    ),
)


def refuse_without_effect(parsed: argparse.Namespace) -> None:
    """A flag set to something other than its default, without the flag whose work it shapes: BadOption."""
    for flag, dest, default, needed, present in _NEEDS:
        if getattr(parsed, dest) != default and not present(parsed):
            raise BadOption(flag, f"has no effect without {needed}")


MAX_TRACE_SPEED = 1000.0


def _shaping_flags(parsed: argparse.Namespace) -> tuple[tuple[str, object], ...]:
    """The flags that say when and how much to send (a trace or a replay says it instead)."""
    return (
        ("--parallel", parsed.parallel),
        ("--number", parsed.number),
        ("--rate", parsed.rate),
        ("--duration", parsed.duration),
        ("--sla-auto-tune", parsed.sla_auto_tune),
        ("--warmup-num", parsed.warmup_num),
    )


def trace_stage(parsed: argparse.Namespace) -> Stage:
    """--trace: one open-loop stage, each request due at its offset / --trace-speed, up to --max-concurrency
    in flight; its rate is the trace's mean."""
    refuse_given(_shaping_flags(parsed), "is not combined with --trace (the trace says when and what to send)")
    if not (math.isfinite(parsed.trace_speed) and 0 < parsed.trace_speed <= MAX_TRACE_SPEED):
        raise BadOption("--trace-speed", f"{parsed.trace_speed:g} must be above 0, at most {MAX_TRACE_SPEED:g}")
    at_least("--max-concurrency", parsed.max_concurrency, 1)
    try:
        rows = read_trace(parsed.trace)
    except TraceError as exc:
        raise BadOption("--trace", str(exc)) from None
    offsets_s = tuple(row.offset_s / parsed.trace_speed for row in rows)
    rate_rps = (len(rows) - 1) / offsets_s[-1] if offsets_s[-1] > 0 else float(len(rows))
    return Stage(parsed.max_concurrency, len(rows), rate_rps=rate_rps, open_loop=True, offsets_s=offsets_s)


def replay_sweep(parsed: argparse.Namespace) -> tuple[Stage, ...]:
    """--replay: the recorded run's stages, each open loop at its requests' recorded offsets, at most its
    recorded concurrency in flight (or --max-concurrency, when given)."""
    refuse_given(
        (
            *_shaping_flags(parsed),
            ("--mix", parsed.mix),
            ("--dataset", parsed.dataset),
            ("--multi-turn", parsed.multi_turn),
        ),
        "is not combined with --replay (the recorded run says what and when)",
    )
    stages = []
    for stage in replay_stages(parsed.replay):
        span_s = stage.offsets_s[-1]
        parallel = parsed.max_concurrency if parsed.max_concurrency != DEFAULT_MAX_CONCURRENCY else stage.parallel
        rate_rps = (len(stage.offsets_s) - 1) / span_s if span_s > 0 else float(len(stage.offsets_s))
        stages.append(
            Stage(parallel, len(stage.offsets_s), rate_rps=rate_rps, open_loop=True, offsets_s=stage.offsets_s)
        )
    return tuple(stages)


def sla_stage(spec: SlaSpec, value: float) -> Stage:
    """The stage that measures one value of an SLA search: value x --sla-number-multiplier requests."""
    number = max(1, round(value * spec.number_multiplier))
    if spec.variable == "parallel":
        return Stage(int(value), number)
    return Stage(spec.users, number, rate_rps=value, open_loop=spec.open_loop)


def paired_with(
    lead: str, stages: int, number: list[int], duration: list[float]
) -> tuple[list[int | None], list[float | None]]:
    """--number zipped with the stages' leading flag (--parallel, or --rate in an open loop); --duration per stage."""
    if number and len(number) != stages:
        raise BadOption("--number", f"{len(number)} values for {stages} {lead} values (pairs them up)")
    if not number and not duration:
        raise BadOption("--number", "required (requests per stage), or --duration (seconds per stage)")
    for requests in number:
        at_least("--number", requests, 1)
    numbers: list[int | None] = list(number) or [None] * stages
    return numbers, per_stage("--duration", duration, stages, lead)


def per_stage(
    flag: str, values: list[float], stages: int, paired_with: str, bounds: tuple[float, float] = (0.0, math.inf)
) -> list[float | None]:
    """A per-stage flag: none, one value for every stage, or one each; each in (low, high] (above 0, finite)."""
    if len(values) not in (0, 1, stages):
        raise BadOption(flag, f"{len(values)} values for {stages} {paired_with} values (one, or one each)")
    low, high = bounds
    for value in values:
        if not 0 < value < math.inf:
            raise BadOption(flag, f"{value:g} must be more than 0")
        if not low <= value <= high:
            raise BadOption(flag, f"{value:g} is outside [{low:g}, {high:g}]")
    if not values:
        return [None] * stages
    chosen: list[float | None] = list(values)
    return chosen * (stages if len(values) == 1 else 1)


class _PlainParser(argparse.ArgumentParser):
    """argparse with Locust's extra add_argument keywords (env_var, is_secret) accepted and dropped."""

    def add_argument(self, *args: Any, env_var: str | None = None, is_secret: bool = False, **kwargs: Any) -> Any:
        return super().add_argument(*args, **kwargs)


def flag_dests() -> set[str]:
    """The attribute names of omniload's own flags (api_key, parallel, ...)."""
    parser = _PlainParser(prog="omniload")
    add_arguments(parser)
    return {action.dest for action in parser._actions if action.dest != "help"}


def options_from_argv(argv: list[str], host: str | None) -> LoadOptions:
    """LoadOptions from omniload's flags alone, without Locust (for tests and benchmarks)."""
    parser = _PlainParser(prog="omniload")
    add_arguments(parser)
    return load_options(parser.parse_args(argv), host)


def _extra_body(text: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = safejson.loads(text)
    except json.JSONDecodeError as exc:
        raise BadOption("--extra-args", f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except ValueError as exc:
        raise BadOption("--extra-args", f"not usable JSON ({exc})") from None
    if not isinstance(value, dict):
        raise BadOption("--extra-args", "must be a JSON object")
    for name in value:
        if name in RESERVED_BODY_FIELDS:
            raise BadOption(
                "--extra-args", f"sets {name!r}, which omniload sets itself (use {RESERVED_BODY_FIELDS[name]})"
            )
    return value
