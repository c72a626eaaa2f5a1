"""The built wheel works without the source tree: installed (not editable) into a fresh venv.

The fresh venv gets omniload's dependencies from the test venv's site-packages through a
plain path line (no editable finder is loaded that way), and everything runs from a
directory outside the checkout, so every file the product reads must come from the package.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from common import MODEL, REPO

STEP_DEADLINE_S = 240.0


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the omniload wheel installed; returns its bin directory."""
    root = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(root / "dist"),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=STEP_DEADLINE_S,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next((root / "dist").glob("omniload-*.whl"))
    venv.create(root / "venv", with_pip=False)
    bin_dir = root / "venv" / "bin"
    python = str(bin_dir / "python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", site, str(wheel)],
        capture_output=True,
        text=True,
        timeout=STEP_DEADLINE_S,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    # the console script, as pip would write it for that venv
    script = bin_dir / "omniload"
    script.write_text(f"#!{python}\nimport sys\nfrom harness.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return bin_dir


def run(bin_dir: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "omniload"), *args], capture_output=True, text=True, cwd=cwd, timeout=STEP_DEADLINE_S
    )


def test_the_package_comes_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed / "python"), "-c", "import harness; print(harness.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(installed.parent)) and not where.startswith(str(REPO))


def test_help_of_the_commands(installed: Path, tmp_path: Path) -> None:
    assert "omnibench" in run(installed, ["--help"], tmp_path).stdout
    grafana = run(installed, ["grafana", "push", "--help"], tmp_path)
    assert grafana.returncode == 0 and "--prometheus-url" in grafana.stdout
    assert Path(run(installed, ["locustfile"], tmp_path).stdout.strip()).is_file()


def test_a_three_request_sweep_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    sim = subprocess.Popen(
        [
            str(installed / "omniload"),
            "sim",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--fixed",
            "10",
            "1",
            "--model",
            MODEL,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert sim.stdout is not None
        base_url = ""
        for line in sim.stdout:
            if "serving on " in line:
                base_url = line.split("serving on ")[1].split()[0]
                break
        assert base_url, "the simulator did not start"
        result = run(
            installed,
            [
                "run",
                "--headless",
                "--host",
                base_url,
                "--model",
                MODEL,
                "--parallel",
                "1",
                "--number",
                "3",
                "--sleep-interval",
                "0",
                "--max-tokens",
                "8",
                "--image-num",
                "1",
                "--image-width",
                "64",
                "--image-height",
                "64",
                "--min-prompt-length",
                "32",
                "--max-prompt-length",
                "32",
                "--metrics-port",
                "0",
                "--report-dir",
                "out",
            ],
            tmp_path,
        )
    finally:
        sim.terminate()
        sim.wait(30)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [(stage["sent"], stage["succeeded"]) for stage in summary["stages"]] == [(3, 3)]
    assert summary["tokenize_check"]["match"] is True
