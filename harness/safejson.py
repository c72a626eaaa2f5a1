"""JSON from outside the process (flags, server bodies), parsed with limits.

The standard parser accepts NaN and Infinity (not JSON: a body built from them is not
JSON either) and recurses once per nesting level (a few thousand `[` raise
RecursionError instead of a parse error). Here both are a ValueError, as any other
malformed input is, so callers handle one exception.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # nesting levels; no request option or server answer needs more


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(text: str | bytes) -> Any:
    """Parse JSON; ValueError for malformed input, NaN/Infinity, or nesting deeper than MAX_DEPTH."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep") from None
    if depth(value) > MAX_DEPTH:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    return value


def depth(value: Any) -> int:
    """Nesting levels of a parsed JSON value (a scalar is 0), without recursion."""
    deepest, pending = 0, [(value, 0)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level + 1)
            if level + 1 <= MAX_DEPTH:  # deeper is already too deep: stop walking
                pending.extend((child, level + 1) for child in item)
    return deepest
