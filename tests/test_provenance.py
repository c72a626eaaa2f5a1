"""Provenance is omniload's own: its version from a source tree too, its commit only from its own checkout."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from harness.provenance import provenance

from common import REPO

PRINT = "import json; from harness.provenance import provenance; print(json.dumps(provenance()))"


def test_this_checkout_names_its_commit() -> None:
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert provenance()["git commit"].removesuffix("+modified") == head


def test_a_source_tree_without_git_inside_a_users_repository(tmp_path: Path) -> None:
    """Run from an untracked copy, with the current directory in the user's own git repository."""
    source = tmp_path / "omniload-src"
    shutil.copytree(REPO / "harness", source / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", source / "pyproject.toml")
    user = tmp_path / "my-project"
    user.mkdir()
    subprocess.run(["git", "init", "-q", str(user)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(user),
            "-c",
            "user.name=u",
            "-c",
            "user.email=u@x",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "mine",
        ],
        check=True,
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", f"import sys; sys.path.insert(0, {str(source)!r}); {PRINT}"],
        capture_output=True,
        text=True,
        cwd=user,
        timeout=60,
    )
    made_by = json.loads(result.stdout)
    assert made_by["git commit"] == "not a checkout"  # not the user's repository's commit
    declared = re.search(r'^version = "(.+)"', (REPO / "pyproject.toml").read_text(), re.M).group(1)  # type: ignore[union-attr]
    assert (
        made_by["omniload"] == declared != "unknown"
    )  # from pyproject.toml: not installed here (-S: no site-packages)
