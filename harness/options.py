"""The load flags, added to Locust's own parser, and the validated options they yield.

Going through Locust's parser means every flag also works in `locust.conf`, as a
`LOCUST_<NAME>` environment variable, in the web UI, and reaches workers (the master
sends its parsed options with every spawn message). Names follow `evalscope perf`
where it has one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, NoReturn
from urllib.parse import urlsplit

from harness.argparsing import BAD_INPUT_EXIT_CODE

DEFAULT_API_PATH = "/v1/chat/completions"
DEFAULT_PROMPT_TOKENS = 1024
DEFAULT_MAX_TOKENS = 1024
DEFAULT_IMAGE_SIDE_PX = 512
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_READ_TIMEOUT_S = 600.0
DEFAULT_POOL_SIZE = 256
DEFAULT_REPORT_ROOT = "results"
DEFAULT_SLEEP_INTERVAL_S = 5.0
OMNIBENCH_MAX_TOKENS = 10000
DEFAULT_METRICS_PORT = 9646
MAX_IMAGE_SIDE_PX = 16384
API_KEY_ENV = "OPENAI_API_KEY"

IMAGE_CONTENTS = ("noise", "shapes")
IMAGE_ENCODINGS = ("png", "jpeg")
# PIL modes each encoding can write.
ENCODABLE_MODES = {
    "png": ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"),
    "jpeg": ("1", "L", "RGB", "CMYK"),
}
# Options that never leave the process in reports, logs or metrics.
SECRET_OPTIONS = frozenset({"api_key", "grafana_url"})


class BadOption(ValueError):
    """Bad input for one flag; the message names the flag."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"{flag}: {message}")
        self.flag = flag


def exit_bad_option(error: BadOption) -> NoReturn:
    """One line on stderr naming the flag, exit code 2 — before any load is sent.

    Also from a greenlet: gevent re-raises SystemExit in the main greenlet.
    """
    sys.stderr.write(f"omniload: error: {error}\n")
    sys.stderr.flush()
    sys.exit(BAD_INPUT_EXIT_CODE)


def add_arguments(parser: Any) -> None:
    """Add omniload's flags to Locust's parser (a configargparse parser with web-UI extras)."""

    def add(flag: str, **kwargs: Any) -> None:
        # Locust's own add_argument (not a group's) knows is_secret and the web UI.
        dest = flag.lstrip("-").replace("-", "_")
        parser.add_argument(flag, env_var=f"LOCUST_{dest.upper()}", **kwargs)

    add("--model", default="", help="Model name sent in each request (required)")
    add("--api-key", default=os.environ.get(API_KEY_ENV, ""), is_secret=True,
        help=f"Bearer token (default: ${API_KEY_ENV}); never written anywhere")  # fmt: skip
    add("--api-path", default=DEFAULT_API_PATH, help="Chat completions path on --host")
    add("--min-prompt-length", type=int, default=DEFAULT_PROMPT_TOKENS,
        help="Fewest text tokens per prompt (chat template included)")  # fmt: skip
    add("--max-prompt-length", type=int, default=DEFAULT_PROMPT_TOKENS,
        help="Most text tokens per prompt; lengths are drawn uniformly between min and max")  # fmt: skip
    add("--prefix-length", type=int, default=0, help="Tokens of shared prefix added before every prompt")
    add("--min-tokens", type=int, default=None,
        help="Fewest output tokens (default: --max-tokens, i.e. exactly that many)")  # fmt: skip
    add("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS, help="Most output tokens")
    add("--ignore-eos", action=argparse.BooleanOptionalAction, default=None,
        help="Send ignore_eos (default: on when a minimum output is asked for)")  # fmt: skip
    add("--image-width", type=int, default=DEFAULT_IMAGE_SIDE_PX, help="Image width in pixels")
    add("--image-height", type=int, default=DEFAULT_IMAGE_SIDE_PX, help="Image height in pixels")
    add("--image-format", default="RGB", help="PIL colour mode of the images (RGB, L, RGBA, ...)")
    add("--image-num", type=int, default=1, help="Images per request (0 for text only)")
    add("--image-encoding", default="png", choices=IMAGE_ENCODINGS, help="Image file format")
    add("--image-content", default="noise", choices=IMAGE_CONTENTS,
        help="noise: incompressible pixels; shapes: evalscope's flat background with 1-5 shapes")  # fmt: skip
    add("--unique-images", action=argparse.BooleanOptionalAction, default=True,
        help="A fresh image per request, so the server's multimodal cache cannot serve it")  # fmt: skip
    add("--tokenizer-path", default="", help="Tokenizer directory or hub id (default: bundled Qwen3)")
    add("--extra-args", default="", help='JSON object merged into every request body, e.g. \'{"top_p": 0.9}\'')
    add("--temperature", type=float, default=0.0, help="Sampling temperature")
    add("--stream", action=argparse.BooleanOptionalAction, default=True, help="Stream the response (SSE)")
    add("--connect-timeout", type=float, default=DEFAULT_CONNECT_TIMEOUT_S, help="Seconds to connect")
    add("--read-timeout", type=float, default=DEFAULT_READ_TIMEOUT_S, help="Seconds between bytes")
    add("--seed", type=int, default=0, help="Seed for prompts and images (workers add their index)")
    add("--pool-size", type=int, default=DEFAULT_POOL_SIZE,
        help="Payloads built before load; a longer run reuses them (and says so)")  # fmt: skip
    add("--report-dir", default="", help=f"Where results go (default: {DEFAULT_REPORT_ROOT}/<UTC time>)")
    add("--parallel", type=int, nargs="+", default=[],
        help="Sweep: users (requests in flight) per stage, e.g. 1 5 10 50 100")  # fmt: skip
    add("--number", type=int, nargs="+", default=[],
        help="Sweep: requests per stage, paired with --parallel, e.g. 2 10 20 100 200")  # fmt: skip
    add("--sleep-interval", type=float, default=DEFAULT_SLEEP_INTERVAL_S, help="Sweep: seconds between stages")
    add("--warmup-num", type=int, default=0,
        help="Sweep: requests per stage sent first and left out of its statistics")  # fmt: skip
    add("--metrics-host", default="127.0.0.1", help="Address of the live Prometheus metrics (master only)")
    add("--metrics-port", type=int, default=DEFAULT_METRICS_PORT, help="Port of the live metrics (0: none)")
    add("--metrics-linger", type=float, default=0.0,
        help="Seconds to keep serving metrics after the run, so the last values get scraped")  # fmt: skip
    add("--grafana-url", default="", help="Annotate each stage's start and end on this Grafana (credentials: "
        "$GRAFANA_TOKEN or $GRAFANA_USER/$GRAFANA_PASSWORD)")  # fmt: skip
    add("--omnibench", action="store_true", default=False,
        help="After the load, run the OmniBench accuracy pass against the same endpoint")  # fmt: skip
    add("--omnibench-dataset", default="", help="OmniBench parquet file/folder or hub id (default: bundled samples)")
    add("--omnibench-limit", type=int, default=0, help="OmniBench: first N samples (0: all)")
    add("--omnibench-use-image", action=argparse.BooleanOptionalAction, default=True, help="OmniBench: send images")
    add("--omnibench-use-audio", action=argparse.BooleanOptionalAction, default=True, help="OmniBench: send audio")
    add("--omnibench-concurrency", type=int, default=1, help="OmniBench: requests at a time")
    add("--omnibench-max-tokens", type=int, default=OMNIBENCH_MAX_TOKENS, help="OmniBench: max_tokens")
    add("--omnibench-temperature", type=float, default=0.0, help="OmniBench: temperature")


@dataclass(frozen=True)
class LoadOptions:
    """What the user asked for, validated. Token counts in tokens, sizes in pixels, times in s."""

    host: str
    model: str
    api_key: str = field(repr=False)
    api_path: str
    min_prompt_tokens: int
    max_prompt_tokens: int
    prefix_tokens: int
    min_tokens: int
    max_tokens: int
    ignore_eos: bool
    image_width_px: int
    image_height_px: int
    image_mode: str
    image_num: int
    image_encoding: str
    image_content: str
    unique_images: bool
    tokenizer_path: str | None
    extra_body: dict[str, Any]
    temperature: float
    stream: bool
    connect_timeout_s: float
    read_timeout_s: float
    seed: int
    pool_size: int
    report_dir: str
    stages: tuple[Stage, ...] = ()  # a sweep; empty for a plain Locust run
    sleep_interval_s: float = DEFAULT_SLEEP_INTERVAL_S
    warmup_num: int = 0
    omnibench: OmniBenchOptions | None = None  # the accuracy pass after the load, if asked for
    metrics_host: str = "127.0.0.1"
    metrics_port: int = DEFAULT_METRICS_PORT  # 0: no live metrics
    metrics_linger_s: float = 0.0
    grafana_url: str | None = field(default=None, repr=False)  # may carry credentials

    @property
    def requests_budget(self) -> int | None:
        """Requests the whole sweep sends (warm-ups included); None for a plain run."""
        if not self.stages:
            return None
        return sum(stage.number + self.warmup_num for stage in self.stages)

    @property
    def url(self) -> str:
        return self.host.rstrip("/") + self.api_path

    def public_config(self) -> dict[str, Any]:
        """The options as they go into reports: secrets left out."""
        config = {name: value for name, value in vars(self).items() if name not in SECRET_OPTIONS}
        config["stages"] = [[stage.parallel, stage.number] for stage in self.stages]
        config["omnibench"] = asdict(self.omnibench) if self.omnibench is not None else None
        return config


def load_options(parsed: argparse.Namespace, host: str | None) -> LoadOptions:
    """Validate Locust's parsed options; raises BadOption naming the first bad flag."""
    if not host:
        raise BadOption("--host", "required (the server's base URL, e.g. http://127.0.0.1:8801)")
    scheme = urlsplit(host).scheme
    if scheme not in ("http", "https") or not urlsplit(host).hostname:
        raise BadOption("--host", f"{host!r} is not an http(s) URL")
    if not parsed.model:
        raise BadOption("--model", "required (the served model name, as in /v1/models)")
    if not parsed.api_path.startswith("/"):
        raise BadOption("--api-path", f"{parsed.api_path!r} must start with '/'")
    _at_least("--min-prompt-length", parsed.min_prompt_length, 1)
    _at_least("--max-prompt-length", parsed.max_prompt_length, parsed.min_prompt_length,
              "--min-prompt-length")  # fmt: skip
    _at_least("--prefix-length", parsed.prefix_length, 0)
    _at_least("--max-tokens", parsed.max_tokens, 1)
    min_tokens = parsed.max_tokens if parsed.min_tokens is None else parsed.min_tokens
    _at_least("--min-tokens", min_tokens, 0)
    if min_tokens > parsed.max_tokens:
        raise BadOption("--min-tokens", f"{min_tokens} is more than --max-tokens {parsed.max_tokens}")
    for flag, side_px in (("--image-width", parsed.image_width), ("--image-height", parsed.image_height)):
        _at_least(flag, side_px, 1)
        if side_px > MAX_IMAGE_SIDE_PX:
            raise BadOption(flag, f"{side_px} is more than {MAX_IMAGE_SIDE_PX} pixels")
    _at_least("--image-num", parsed.image_num, 0)
    if parsed.image_encoding not in IMAGE_ENCODINGS:
        raise BadOption("--image-encoding", f"{parsed.image_encoding!r} is not one of {', '.join(IMAGE_ENCODINGS)}")
    if parsed.image_content not in IMAGE_CONTENTS:
        raise BadOption("--image-content", f"{parsed.image_content!r} is not one of {', '.join(IMAGE_CONTENTS)}")
    modes = ENCODABLE_MODES[parsed.image_encoding]
    if parsed.image_format not in modes:
        raise BadOption("--image-format", f"PIL mode {parsed.image_format!r} cannot be written as "
                        f"{parsed.image_encoding} (use one of {', '.join(modes)})")  # fmt: skip
    if not parsed.temperature >= 0:
        raise BadOption("--temperature", f"{parsed.temperature} must be 0 or more")
    for flag, seconds in (("--connect-timeout", parsed.connect_timeout), ("--read-timeout", parsed.read_timeout)):
        if not seconds > 0:
            raise BadOption(flag, f"{seconds} must be more than 0 seconds")
    _at_least("--pool-size", parsed.pool_size, 1)
    stages = stages_from(parsed.parallel, parsed.number)
    if not parsed.sleep_interval >= 0:
        raise BadOption("--sleep-interval", f"{parsed.sleep_interval} must be 0 or more seconds")
    _at_least("--warmup-num", parsed.warmup_num, 0)
    if not 0 <= parsed.metrics_port <= 65535:
        raise BadOption("--metrics-port", f"{parsed.metrics_port} is not a port number (0 turns metrics off)")
    if not parsed.metrics_linger >= 0:
        raise BadOption("--metrics-linger", f"{parsed.metrics_linger} must be 0 or more seconds")
    omnibench = None
    if parsed.omnibench:
        _at_least("--omnibench-limit", parsed.omnibench_limit, 0)
        _at_least("--omnibench-concurrency", parsed.omnibench_concurrency, 1)
        _at_least("--omnibench-max-tokens", parsed.omnibench_max_tokens, 1)
        omnibench = OmniBenchOptions(parsed.omnibench_dataset or None, parsed.omnibench_limit or None,
                                     parsed.omnibench_use_image, parsed.omnibench_use_audio,
                                     parsed.omnibench_concurrency, parsed.omnibench_max_tokens,
                                     parsed.omnibench_temperature)  # fmt: skip
    ignore_eos = parsed.ignore_eos if parsed.ignore_eos is not None else min_tokens > 0
    return LoadOptions(
        host=host.rstrip("/"),
        model=parsed.model,
        api_key=parsed.api_key or "",
        api_path=parsed.api_path,
        min_prompt_tokens=parsed.min_prompt_length,
        max_prompt_tokens=parsed.max_prompt_length,
        prefix_tokens=parsed.prefix_length,
        min_tokens=min_tokens,
        max_tokens=parsed.max_tokens,
        ignore_eos=ignore_eos,
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
        connect_timeout_s=parsed.connect_timeout,
        read_timeout_s=parsed.read_timeout,
        seed=parsed.seed,
        pool_size=parsed.pool_size,
        report_dir=parsed.report_dir or default_report_dir(),
        stages=stages,
        sleep_interval_s=parsed.sleep_interval,
        warmup_num=parsed.warmup_num,
        omnibench=omnibench,
        metrics_host=parsed.metrics_host,
        metrics_port=parsed.metrics_port,
        metrics_linger_s=parsed.metrics_linger,
        grafana_url=parsed.grafana_url or None,
    )


@dataclass(frozen=True)
class OmniBenchOptions:
    dataset: str | None  # None: the bundled sample set
    limit: int | None
    use_image: bool
    use_audio: bool
    concurrency: int
    max_tokens: int
    temperature: float


@dataclass(frozen=True)
class Stage:
    parallel: int  # users, i.e. requests in flight
    number: int  # requests sent (measured ones; warm-ups come on top)


def stages_from(parallel: list[int], number: list[int]) -> tuple[Stage, ...]:
    """--parallel and --number zipped pairwise, as evalscope perf does."""
    if not parallel and not number:
        return ()
    if len(parallel) != len(number):
        raise BadOption("--number", f"{len(number)} values for {len(parallel)} --parallel values (pairs them up)")
    for users, requests in zip(parallel, number):
        _at_least("--parallel", users, 1)
        _at_least("--number", requests, 1)
    return tuple(Stage(users, requests) for users, requests in zip(parallel, number))


class _PlainParser(argparse.ArgumentParser):
    """argparse with Locust's extra add_argument keywords (env_var, is_secret) accepted and dropped."""

    def add_argument(self, *args: Any, env_var: str | None = None, is_secret: bool = False, **kwargs: Any) -> Any:
        return super().add_argument(*args, **kwargs)


def options_from_argv(argv: list[str], host: str | None) -> LoadOptions:
    """LoadOptions from omniload's flags alone, without Locust (for tests and benchmarks)."""
    parser = _PlainParser(prog="omniload")
    add_arguments(parser)
    return load_options(parser.parse_args(argv), host)


def default_report_dir() -> str:
    return os.path.join(DEFAULT_REPORT_ROOT, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))


def _at_least(flag: str, value: int, minimum: int, minimum_flag: str | None = None) -> None:
    if value < minimum:
        bound = f"{minimum_flag} {minimum}" if minimum_flag else str(minimum)
        raise BadOption(flag, f"{value} is less than {bound}")


def _extra_body(text: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadOption("--extra-args", f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(value, dict):
        raise BadOption("--extra-args", "must be a JSON object")
    return value
