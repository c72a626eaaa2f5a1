"""`omniload omnibench`: the accuracy pass on its own."""

from __future__ import annotations

import argparse
import os
import sys

from harness.argparsing import BAD_INPUT_EXIT_CODE, OneLineArgumentParser
from harness.omnibench.dataset import HUB_DATASET, DatasetError
from harness.omnibench.runner import DEFAULT_MAX_TOKENS, OmniBenchConfig, run_omnibench
from harness.options import API_KEY_ENV, default_report_dir


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(prog="omniload omnibench", description=__doc__)
    parser.add_argument("--api-url", required=True, help="server base URL (or its /v1/chat/completions URL)")
    parser.add_argument("--model", required=True)
    parser.add_argument("--api-key", default=os.environ.get(API_KEY_ENV, ""), help=f"default: ${API_KEY_ENV}")
    parser.add_argument("--dataset", default=None, help=f"parquet file or folder (OmniBench layout), or a hub id "
                        f"such as {HUB_DATASET} (default: the bundled sample set)")  # fmt: skip
    parser.add_argument("--limit", type=int, default=None, help="first N samples")
    parser.add_argument("--use-image", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--use-audio", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--report-dir", default="", help="default: results/<UTC time>; reruns resume")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for flag, value in (("--limit", args.limit), ("--concurrency", args.concurrency), ("--max-tokens", args.max_tokens)):
        if value is not None and value < 1:
            parser.error(f"argument {flag}: {value} is less than 1")
    if not args.api_url.startswith(("http://", "https://")):
        parser.error(f"argument --api-url: {args.api_url!r} is not an http(s) URL")
    config = OmniBenchConfig(api_url=args.api_url, model=args.model, api_key=args.api_key,
                             report_dir=args.report_dir or default_report_dir(), dataset=args.dataset,
                             limit=args.limit, use_image=args.use_image, use_audio=args.use_audio,
                             concurrency=args.concurrency, max_tokens=args.max_tokens,
                             temperature=args.temperature)  # fmt: skip
    try:
        summary = run_omnibench(config)
    except DatasetError as exc:
        sys.stderr.write(f"omniload omnibench: error: --dataset: {exc}\n")
        return BAD_INPUT_EXIT_CODE
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
