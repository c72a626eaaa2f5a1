"""Server text made safe for a terminal: control characters shown, never executed.

An error message is the server's to write. Printed raw, ESC sequences in it set the
terminal's title, clear the screen or move the cursor to forge an `omniload:` line;
a carriage return overwrites the line it is on; bidirectional overrides reorder what
is read. Every such character becomes its escape (`\\x1b`, `\\r`, `\\u202e`), so the
message still says what the server sent.
"""

from __future__ import annotations

import re

# C0 controls (newline and tab included: a message is one line), DEL, C1 controls, and the
# bidirectional embedding, override and isolate characters.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible(text: str, keep_lines: bool = False) -> str:
    """`text` with every control character replaced by its Python escape (`keep_lines`: but newlines and tabs)."""

    def shown(match: re.Match[str]) -> str:
        character = match.group()
        if keep_lines and character in "\n\t":
            return character
        return character.encode("unicode_escape").decode("ascii")

    return _CONTROL.sub(shown, text)
