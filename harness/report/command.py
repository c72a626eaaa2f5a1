"""`omniload report DIR` writes DIR/report.html; `omniload report A B ...` compares runs."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from harness.argparsing import BadOption, OneLineArgumentParser, exit_bad_option
from harness.report.html import load_run, render_comparison, write_report
from harness.report.summary import write_json
from harness.report.verdicts import stage_verdicts
from harness.results import SUMMARY_FILE

PROG = "omniload report"


def comparison_path(runs: list[Path]) -> Path:
    """Beside the first run (never the current directory): comparison-<first>-vs-<second>[-and-N-more].html."""
    first, second = runs[0].resolve(), runs[1].resolve()
    more = f"-and-{len(runs) - 2}-more" if len(runs) > 2 else ""
    return first.parent / f"comparison-{first.name}-vs-{second.name}{more}.html"


def write_pass_report(report_dir: str, summary: dict[str, Any]) -> None:
    """report.html for an OmniBench pass on its own: the run's summary.json holds it (created when the directory has
    none); prints where the report is."""
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
    print(f"report: {write_report(report_dir)}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument("runs", nargs="+", help="report directories (with summary.json)")
    parser.add_argument(
        "--out",
        default=None,
        help="the comparison's file (default: beside the first run, comparison-<first>-vs-<second>.html)",
    )
    parser.add_argument("--no-samples", action="store_true", help="leave OmniBench images and audio out")
    args = parser.parse_args(argv)
    for run in args.runs:
        if not (Path(run) / SUMMARY_FILE).is_file():
            exit_bad_option(BadOption("RUN", f"{run} holds no {SUMMARY_FILE}"), PROG)
    if len(args.runs) == 1:
        print(write_report(args.runs[0], embed_media=not args.no_samples))
        return 0
    out = Path(args.out) if args.out else comparison_path([Path(run) for run in args.runs])
    runs = [load_run(run) for run in args.runs]
    out.write_text(render_comparison(runs), encoding="utf-8")
    verdicts = {run.name: stage_verdicts(runs[0].pair, run.pair) for run in runs[1:]}
    for name, stages in verdicts.items():
        for index, row in enumerate(stages):
            said = "; ".join(f"{verdict.metric} {verdict.shown()}" for verdict in row)
            print(f"{name} against {runs[0].name}, stage {index + 1}: {said}")
    as_data = {name: [[v.to_dict() for v in row] for row in stages] for name, stages in verdicts.items()}
    write_json(str(out.with_suffix(".json")), {"base": runs[0].name, "verdicts": as_data})
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
