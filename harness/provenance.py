"""What produced a run: omniload's version, its own git commit, and the host.

The commit is omniload's only when omniload itself runs from a git checkout (its source
root, the folder above `harness/`, holds `.git`); the git repository the user happens
to run from is not asked. The version comes from the installed package, or from the
source tree's pyproject.toml when it is not installed.
"""

from __future__ import annotations

import re
import socket
import subprocess
from importlib import metadata
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parent.parent
GIT_TIMEOUT_S = 5.0
_VERSION_LINE = re.compile(r'^version\s*=\s*"([^"]+)"', re.M)


def version() -> str:
    """omniload's version: the package's, else the source tree's pyproject.toml, else "unknown"."""
    pyproject = SOURCE_ROOT / "pyproject.toml"
    if pyproject.is_file() and 'name = "omniload"' in pyproject.read_text(encoding="utf-8"):
        match = _VERSION_LINE.search(pyproject.read_text(encoding="utf-8"))
        if match:
            return match.group(1)
    try:
        return metadata.version("omniload")
    except metadata.PackageNotFoundError:
        return "unknown"


def commit() -> str | None:
    """omniload's own commit (short, "+modified" when its tracked files changed), or None outside a checkout."""
    if not (SOURCE_ROOT / ".git").exists():
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(SOURCE_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(SOURCE_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (head + ("+modified" if dirty else "")) or None


def provenance() -> dict[str, str]:
    """{"omniload": version, "git commit": commit or "not a checkout", "host": this host's name}."""
    return {"omniload": version(), "git commit": commit() or "not a checkout", "host": socket.gethostname()}
