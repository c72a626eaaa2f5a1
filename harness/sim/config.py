"""The simulator's command line and the configuration it yields.

Default timing resembles Qwen3-Omni-30B-A3B (a 30B MoE with ~3B active parameters) in
bf16 on one A100-80GB. These are estimates, not measurements: ~12 ms per decode step at
batch 1 (reading ~3B active parameters' weights plus attention, with launch overhead),
+0.1 ms per running sequence, ~8,000 prefill tokens/s, and a KV cache of ~120,000
tokens (48 layers × 4 KV heads × 128 dims × 2 (K,V) × 2 bytes ≈ 98 KB per token, in the
~12 GB left after ~60 GB of weights). `max_num_seqs` is vLLM's default, 256.
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass, field

from harness.argparsing import OneLineArgumentParser
from harness.sim.faults import Fault, parse_fault
from harness.sim.talker import TalkerConfig

DEFAULT_MODEL = "Qwen3-Omni-30B-A3B-Instruct"
DEFAULT_PORT = 8801
DEFAULT_MAX_MODEL_LEN = 32768
DEFAULT_MAX_NUM_SEQS = 256
DEFAULT_PREFILL_TOKENS_PER_S = 8000.0
DEFAULT_DECODE_MS = 12.0
DEFAULT_DECODE_MS_PER_SEQ = 0.1
DEFAULT_KV_CACHE_TOKENS = 120_000
# Without ignore_eos, the "model" ends its answer after this many tokens (min_tokens and
# max_tokens still bound it), as a real model stops at EOS.
DEFAULT_NATURAL_OUTPUT_TOKENS = 256
DEFAULT_MAX_BODY_MB = 64


@dataclass
class SimConfig:
    """The simulator's validated settings (times in ms unless named otherwise)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    model: str = DEFAULT_MODEL
    tokenizer_path: str | None = None
    max_model_len: int = DEFAULT_MAX_MODEL_LEN
    max_num_seqs: int = DEFAULT_MAX_NUM_SEQS
    prefill_tokens_per_s: float = DEFAULT_PREFILL_TOKENS_PER_S
    decode_ms: float = DEFAULT_DECODE_MS
    decode_ms_per_seq: float = DEFAULT_DECODE_MS_PER_SEQ
    kv_cache_tokens: int = DEFAULT_KV_CACHE_TOKENS
    fixed_ttft_ms: float | None = None
    fixed_itl_ms: float | None = None
    jitter_ms: float = 0.0  # --fixed: TTFT + uniform [0, jitter) per request
    stream_interval: int = 1
    reasoning_tokens: int = 0
    natural_output_tokens: int = DEFAULT_NATURAL_OUTPUT_TOKENS
    seed: int = 0
    ground_truth: str | None = None
    ground_truth_events: bool = False
    fault_rate: float = 0.0
    faults: list[Fault] = field(default_factory=list)
    max_body_mb: float = DEFAULT_MAX_BODY_MB
    answer_key: str | None = None
    answer_accuracy: float = 1.0
    api_key: str | None = field(default=None, repr=False)  # vLLM's --api-key: /v1 routes need it
    compat: str = "vllm"  # "openai": behave as a plain OpenAI-compatible server (transformers serve)
    prefix_caching: bool = True  # vLLM's --enable-prefix-caching (on by default in v1)
    prompt_tokens_details: bool = False  # vLLM's --enable-prompt-tokens-details: cached_tokens in usage
    talker: TalkerConfig = field(default_factory=TalkerConfig)  # --talker: spoken answers (harness/sim/talker.py)


PROG = "python -m harness.sim"
COMPAT_MODES = ("vllm", "openai", "gateway")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog=PROG,
        description="A vLLM-compatible simulated server for Qwen3-Omni (OpenAI chat completions).",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1")
    add("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port (printed at start)")
    add("--model", default=DEFAULT_MODEL, help="served model name")
    add("--tokenizer-path", default=None, help="local dir or hub id; default: bundled Qwen3 tokenizer")
    add("--max-model-len", type=int, default=DEFAULT_MAX_MODEL_LEN)
    add("--max-num-seqs", type=int, default=DEFAULT_MAX_NUM_SEQS, help="running slots")
    add("--prefill-tokens-per-s", type=float, default=DEFAULT_PREFILL_TOKENS_PER_S)
    add("--decode-ms", type=float, default=DEFAULT_DECODE_MS, help="decode step base time")
    add("--decode-ms-per-seq", type=float, default=DEFAULT_DECODE_MS_PER_SEQ, help="added per running sequence")
    add("--kv-cache-tokens", type=int, default=DEFAULT_KV_CACHE_TOKENS)
    add("--fixed", nargs=2, type=float, metavar=("TTFT_MS", "ITL_MS"), help="constant timing, no batching")
    add(
        "--jitter-ms",
        type=float,
        default=0.0,
        help="with --fixed: each request's first token comes a further uniform [0, J) ms later (seeded): a known "
        "spread, so tests know every percentile in advance",
    )
    add("--stream-interval", type=int, default=1, help="tokens per stream event")
    add("--reasoning-tokens", type=int, default=0, help="send the first R tokens as reasoning_content")
    add(
        "--natural-output-tokens",
        type=int,
        default=DEFAULT_NATURAL_OUTPUT_TOKENS,
        help="answer length when EOS is not ignored",
    )
    add("--seed", type=int, default=0)
    add("--ground-truth", default=None, metavar="FILE", help="append one JSON line per request")
    add("--ground-truth-events", action="store_true", help="also record every event's send time and lag")
    add("--fault-rate", type=float, default=0.0, help="share of requests given one of --faults")
    add("--faults", nargs="+", default=[], metavar="SPEC", help="fault specs, e.g. http_503 disconnect@5")
    add("--max-body-mb", type=float, default=DEFAULT_MAX_BODY_MB, help="larger bodies get 413")
    add(
        "--answer-key",
        default=None,
        metavar="PARQUET",
        help="answer OmniBench questions from this dataset file (OmniBench layout)",
    )
    add("--answer-accuracy", type=float, default=1.0, help="share of --answer-key questions answered right")
    add("--api-key", default=None, help="as vLLM: /v1 routes answer 401 without Authorization: Bearer KEY")
    add(
        "--compat",
        choices=COMPAT_MODES,
        default="vllm",
        help="openai: a plain OpenAI-compatible server as transformers serve is: vLLM fields refused (422), "
        "usage in the finish event, no data: [DONE], no /tokenize, /metrics or /version; gateway: vLLM behind "
        "a proxy that forwards only /v1/* (vLLM's requests and answers, no other route)",
    )
    add(
        "--enable-prefix-caching",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="as vLLM (on by default): prompt blocks computed before are reused and shorten prefill "
        "(harness/sim/prefixcache.py); the --no- form turns it off",
    )
    add(
        "--enable-prompt-tokens-details",
        action="store_true",
        default=False,
        help="as vLLM: usage.prompt_tokens_details.cached_tokens when a request found cached tokens",
    )
    defaults = TalkerConfig()
    add(
        "--talker",
        action="store_true",
        default=False,
        help="speak: a request asking for audio (modalities) gets audio chunks beside its text, in vLLM-Omni's or "
        "OpenAI's shape (harness/sim/talker.py); without it such requests get text alone",
    )
    add("--talker-ttfa-ms", type=float, default=defaults.ttfa_ms, help="first audio chunk after the first token")
    add("--talker-chunk-ms", type=float, default=defaults.chunk_ms, help="audio per chunk")
    add("--talker-rtf", type=float, default=defaults.rtf, help="seconds to make a second of audio, alone")
    add(
        "--talker-rtf-per-seq",
        type=float,
        default=defaults.rtf_per_seq,
        help="added to the real-time factor per other answer being spoken (speech slows with load)",
    )
    add(
        "--talker-seconds-per-token",
        type=float,
        default=defaults.seconds_per_token,
        help="audio per output token",
    )
    return parser


def parse_config(argv: list[str] | None = None) -> SimConfig:
    """Parse the command line; bad values exit 2 with a message naming the flag."""
    parser = build_parser()
    args = parser.parse_args(argv)
    positive = {
        "--max-model-len": args.max_model_len,
        "--max-num-seqs": args.max_num_seqs,
        "--prefill-tokens-per-s": args.prefill_tokens_per_s,
        "--kv-cache-tokens": args.kv_cache_tokens,
        "--stream-interval": args.stream_interval,
        "--max-body-mb": args.max_body_mb,
    }
    for flag, value in positive.items():
        if value <= 0:
            parser.error(f"{flag} must be positive, got {value}")
    for flag, value in {
        "--decode-ms": args.decode_ms,
        "--decode-ms-per-seq": args.decode_ms_per_seq,
        "--reasoning-tokens": args.reasoning_tokens,
        "--natural-output-tokens": args.natural_output_tokens,
    }.items():
        if value < 0:
            parser.error(f"{flag} must not be negative, got {value}")
    if args.fixed is not None and (args.fixed[0] < 0 or args.fixed[1] < 0):
        parser.error(f"--fixed values must not be negative, got {args.fixed}")
    if args.jitter_ms and (args.fixed is None or not 0 <= args.jitter_ms < math.inf):
        parser.error(f"--jitter-ms needs --fixed and a finite value, 0 or more, got {args.jitter_ms}")
    for flag, value in {
        "--talker-ttfa-ms": args.talker_ttfa_ms,
        "--talker-rtf": args.talker_rtf,
        "--talker-rtf-per-seq": args.talker_rtf_per_seq,
    }.items():
        if not 0 <= value < math.inf:
            parser.error(f"{flag} must be 0 or more, got {value}")
    for flag, value in {
        "--talker-chunk-ms": args.talker_chunk_ms,
        "--talker-seconds-per-token": args.talker_seconds_per_token,
    }.items():
        if not 0 < value < math.inf:
            parser.error(f"{flag} must be positive, got {value}")
    if not 0.0 <= args.fault_rate <= 1.0:
        parser.error(f"--fault-rate must be within [0, 1], got {args.fault_rate}")
    try:
        faults = [parse_fault(spec) for spec in args.faults]
    except ValueError as exc:
        parser.error(f"--faults: {exc}")
    if args.fault_rate > 0 and not faults:
        parser.error("--fault-rate needs --faults")
    if not 0.0 <= args.answer_accuracy <= 1.0:
        parser.error(f"--answer-accuracy must be within [0, 1], got {args.answer_accuracy}")
    if args.answer_key is not None and not os.path.isfile(args.answer_key):
        parser.error(f"--answer-key: no such file {args.answer_key!r}")
    return SimConfig(
        host=args.host,
        port=args.port,
        model=args.model,
        tokenizer_path=args.tokenizer_path,
        max_model_len=args.max_model_len,
        max_num_seqs=args.max_num_seqs,
        prefill_tokens_per_s=args.prefill_tokens_per_s,
        decode_ms=args.decode_ms,
        decode_ms_per_seq=args.decode_ms_per_seq,
        kv_cache_tokens=args.kv_cache_tokens,
        fixed_ttft_ms=args.fixed[0] if args.fixed else None,
        fixed_itl_ms=args.fixed[1] if args.fixed else None,
        jitter_ms=args.jitter_ms,
        stream_interval=args.stream_interval,
        reasoning_tokens=args.reasoning_tokens,
        natural_output_tokens=args.natural_output_tokens,
        seed=args.seed,
        ground_truth=args.ground_truth,
        ground_truth_events=args.ground_truth_events,
        fault_rate=args.fault_rate,
        faults=faults,
        max_body_mb=args.max_body_mb,
        api_key=args.api_key,
        compat=args.compat,
        answer_key=args.answer_key,
        answer_accuracy=args.answer_accuracy,
        prefix_caching=args.enable_prefix_caching,
        prompt_tokens_details=args.enable_prompt_tokens_details,
        talker=TalkerConfig(
            args.talker,
            args.talker_ttfa_ms,
            args.talker_chunk_ms,
            args.talker_rtf,
            args.talker_rtf_per_seq,
            args.talker_seconds_per_token,
        ),
    )
