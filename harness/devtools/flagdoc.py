"""docs/flags.md from the parser itself, so the flag reference cannot drift from the code.

python -m harness.devtools.flagdoc > docs/flags.md   (tests/test_flagdoc.py checks it is current)
"""

from __future__ import annotations

import argparse
import sys

from harness.options import FLAG_GROUPS, _PlainParser, add_arguments

HEADER = """# omniload's flags

Generated from the parser (`python -m harness.devtools.flagdoc > docs/flags.md`); `omniload run --help`
prints the same with Locust's own flags. Every flag also works in `locust.conf` (`max-tokens = 256`) and
as an environment variable (`LOCUST_MAX_TOKENS=256`). Bad input is refused before any request with one
line naming the flag (exit 2).
"""


def _default(action: argparse.Action) -> str:
    if action.dest == "api_key":
        return "`$OPENAI_API_KEY`"
    if action.default is None or action.default is False or action.default in ("", []):
        return ""
    if action.default is True:
        return "on"
    if isinstance(action.default, list):
        return "`" + " ".join(str(value) for value in action.default) + "`"
    return f"`{action.default:g}`" if isinstance(action.default, float) else f"`{action.default}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\\\|")


def render() -> str:
    """The markdown reference: one table per FLAG_GROUPS section."""
    parser = _PlainParser(prog="omniload run")
    add_arguments(parser)
    lines = [HEADER]
    for group in parser._action_groups:
        if not group.title or not any(group.title == title for title, _ in FLAG_GROUPS):
            continue
        lines += [
            f"## {group.title.removeprefix('omniload: ').capitalize()}",
            "",
            "| flag | default | meaning |",
            "|---|---|---|",
        ]
        for action in group._group_actions:
            flags = ", ".join(f"`{flag}`" for flag in action.option_strings)
            lines.append(f"| {flags} | {_default(action)} | {_cell(action.help or '')} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render())
