"""The `omniload` console script: subcommands dispatch to their modules."""

from __future__ import annotations

import importlib
import os
import sys

from harness.argparsing import BadOption, exit_bad_option

USAGE = """usage: omniload COMMAND [options]   (omniload COMMAND --help)

  run ...          a load run: Locust with omniload's locustfile (all of Locust's and omniload's flags;
                   --processes auto: one load-generating process per spare core)
  locustfile       print the path of that locustfile (for `locust -f "$(omniload locustfile)" ...`)
  omnibench ...    the OmniBench accuracy pass on its own
  grafana push ... push the Prometheus datasource and the dashboard to a Grafana
  report DIR [DIR ...]  write DIR/report.html, or compare runs (comparison-A-vs-B.html beside A)
  app [RESULTS]    a local viewer of every run under RESULTS (default: results)
  replay RUN_DIR --host URL ...  send a run's kept bodies (--keep-bodies) again at their times, then compare
  sim ...          the simulated vLLM server
  demo             everything above against the simulator (what `make demo` runs)"""


# Subcommands whose module has a main(argv) -> exit code; imported only when used.
COMMANDS = {
    "grafana": "harness.grafana",
    "report": "harness.report.command",
    "app": "harness.report.app",
    "sim": "harness.sim.__main__",
    "demo": "harness.devtools.demo",
    "replay": "harness.replay",
}


def auto_processes(args: list[str]) -> list[str]:
    """`--processes auto`: one load-generating process per spare core (the master keeps one).

    Any other value is checked here, since Locust forks before omniload's checks run:
    a count from 1 up, or -1 (one per core, Locust's meaning); else BadOption.
    """
    spare = str(max(1, (os.cpu_count() or 1) - 1))
    result = []
    for previous, arg in zip(["", *args], args, strict=False):
        if previous == "--processes" and arg == "auto":
            arg = spare
        elif previous == "--processes" or arg.startswith("--processes="):
            count = arg.removeprefix("--processes=")
            if not (count.lstrip("-").isdigit() and (int(count) >= 1 or int(count) == -1)):
                raise BadOption(
                    "--processes", f"{count!r}: a count of processes (1 or more), -1 (one per core) or auto"
                )
        result.append(arg)
    return result


def run_help() -> int:
    """`omniload run --help`: Locust's flags, then omniload's in named groups.

    (`locust -f ... --help` prints Locust's parser before it imports any locustfile, so it
    cannot show the flags a locustfile adds; this is the help that has them all.)
    """
    from locust.argument_parser import get_parser

    from harness.options import add_arguments

    parser = get_parser()
    parser.prog = "omniload run"
    add_arguments(parser)
    parser.print_help()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "run" and ("-h" in rest or "--help" in rest):
        return run_help()
    if command == "run":
        from harness.resources import locustfile_path

        # Locust's own entry point, so every Locust flag and behaviour stays as documented.
        try:
            locust_args = auto_processes(rest)
        except BadOption as error:
            exit_bad_option(error)
        os.execv(sys.executable, [sys.executable, "-m", "locust", "-f", locustfile_path(), *locust_args])
    if command == "locustfile":
        from harness.resources import locustfile_path

        print(locustfile_path())
        return 0
    if command == "omnibench":  # the pass, then its report (the report side reads what the pass wrote)
        from harness.omnibench.cli import main as omnibench_main
        from harness.report.command import write_pass_report

        return omnibench_main(rest, after=write_pass_report)
    module = COMMANDS.get(command)
    if module is not None:
        return int(importlib.import_module(module).main(rest))
    sys.stderr.write(f"omniload: error: unknown command {command!r}\n{USAGE}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
