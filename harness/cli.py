"""The `omniload` console script: subcommands dispatch to their modules."""

from __future__ import annotations

import sys

USAGE = "usage: omniload {sim,omnibench,grafana} [options]   (omniload COMMAND --help)"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "sim":
        from harness.sim.__main__ import main as sim_main

        return sim_main(rest)
    if command == "grafana":
        from harness.grafana import main as grafana_main

        return grafana_main(rest)
    if command == "omnibench":
        from harness.omnibench.cli import main as omnibench_main

        return omnibench_main(rest)
    sys.stderr.write(f"omniload: error: unknown command {command!r}\n{USAGE}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
