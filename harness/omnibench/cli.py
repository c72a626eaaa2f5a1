"""`omniload omnibench`: the accuracy pass on its own."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from harness.argparsing import BAD_INPUT_EXIT_CODE, BadOption, OneLineArgumentParser, exit_bad_option
from harness.endpoint import endpoint_from_url
from harness.omnibench.config import STANDALONE_PREFIX, add_omnibench_arguments, omnibench_config
from harness.omnibench.dataset import HUB_DATASET, DatasetError
from harness.omnibench.runner import PassRefused, run_omnibench
from harness.options import API_KEY_ENV, default_report_dir

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


def main(argv: list[str] | None = None) -> int:
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
    print(f"report: {write_pass_report(report_dir, summary)}", flush=True)
    return 1 if summary["failed"] else 0


def write_pass_report(report_dir: str, summary: dict[str, Any]) -> str:
    """report.html for a pass on its own: the run's summary.json holds it (created when the directory has none)."""
    from harness.report.html import write_report
    from harness.report.summary import SUMMARY_FILE, write_json

    path = os.path.join(report_dir, SUMMARY_FILE)
    run: dict[str, Any] = {
        "model": summary["model"],
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": {},
        "stages": [],
    }
    if os.path.exists(path):
        with open(path, encoding="utf-8") as file:
            run = json.load(file)
    run["omnibench"] = summary
    write_json(path, run)
    return str(write_report(report_dir))


if __name__ == "__main__":
    sys.exit(main())
