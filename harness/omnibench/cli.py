"""`omniload omnibench`: the accuracy pass on its own."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from harness.argparsing import BAD_INPUT_EXIT_CODE, BadOption, OneLineArgumentParser, exit_bad_option
from harness.endpoint import API_KEY_ENV, endpoint_from_url
from harness.omnibench.config import STANDALONE_PREFIX, add_omnibench_arguments, omnibench_config
from harness.omnibench.dataset import HUB_DATASET, DatasetError
from harness.omnibench.runner import PassRefused, run_omnibench
from harness.results import default_report_dir

PROG = "omniload omnibench"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument("--api-url", required=True, help="server base URL (or its /v1/chat/completions URL)")
    parser.add_argument("--model", required=True)
    parser.add_argument("--api-key", default=os.environ.get(API_KEY_ENV, ""), help=f"default: ${API_KEY_ENV}")
    parser.add_argument("--report-dir", default="", help="default: results/<UTC time>; reruns resume")
    add_omnibench_arguments(parser.add_argument, STANDALONE_PREFIX)
    parser.epilog = f"--dataset also takes a hub id such as {HUB_DATASET}"
    return parser


# What to do with a finished pass: (report directory, its summary) -> None (the top-level CLI writes report.html).
AfterPass = Callable[[str, dict[str, Any]], None]


def main(argv: list[str] | None = None, after: AfterPass | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        endpoint = endpoint_from_url(args.api_url, args.model, args.api_key, "--api-url")
        config = omnibench_config(args, STANDALONE_PREFIX)
    except BadOption as error:
        exit_bad_option(error, PROG)
    report_dir = args.report_dir or default_report_dir()
    try:
        summary = run_omnibench(endpoint, report_dir, config)
    except DatasetError as exc:
        sys.stderr.write(f"{PROG}: error: --dataset: {exc}\n")
        return BAD_INPUT_EXIT_CODE
    except PassRefused as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return BAD_INPUT_EXIT_CODE
    if after is not None:
        after(report_dir, summary)
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
