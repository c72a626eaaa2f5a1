"""docs/flags.md is the parser's own reference: regenerated, it comes out the same."""

from __future__ import annotations

from harness.devtools.flagdoc import render
from harness.options import flag_dests

from common import REPO


def test_the_flag_reference_is_current() -> None:
    committed = (REPO / "docs" / "flags.md").read_text()
    assert committed == render(), "regenerate: python -m harness.devtools.flagdoc > docs/flags.md"
    for dest in flag_dests():
        assert f"`--{dest.replace('_', '-')}`" in committed, dest
