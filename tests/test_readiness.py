"""--wait-for-server: a server that comes up late is waited for; one that never does is one line, exit 2."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from harness.devtools.locustproc import locust_command
from harness.devtools.promserver import free_port
from harness.devtools.simprocess import start_sim

from common import MODEL

LATE_S = 10.0
SMALL = [
    "--parallel",
    "1",
    "--number",
    "2",
    "--max-tokens",
    "4",
    "--image-num",
    "0",
    "--min-prompt-length",
    "32",
    "--max-prompt-length",
    "32",
    "--metrics-port",
    "0",
    "--sleep-interval",
    "0",
]


def test_a_server_that_comes_up_late_is_waited_for(tmp_path: Path) -> None:
    port = free_port()
    started_s = time.monotonic()
    locust = subprocess.Popen(
        locust_command(
            [
                "--headless",
                "--host",
                f"http://127.0.0.1:{port}",
                "--model",
                MODEL,
                "--report-dir",
                str(tmp_path),
                "--wait-for-server",
                "60",
                *SMALL,
            ]
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(LATE_S)  # the server is "loading its model": nothing listens yet
    sim = start_sim(["--fixed", "5", "1", "--model", MODEL], port=port)
    try:
        stdout, stderr = locust.communicate(timeout=120)
    finally:
        sim.stop()
    assert locust.returncode == 0, stderr[-3000:]
    assert time.monotonic() - started_s >= LATE_S
    assert f"omniload: waiting for http://127.0.0.1:{port}" in stdout and "is ready after" in stdout
    assert json.loads((tmp_path / "summary.json").read_text())["stages"][0]["succeeded"] == 2


def test_a_server_that_never_comes_is_one_line_and_exit_2(tmp_path: Path) -> None:
    port = free_port()
    started_s = time.monotonic()
    result = subprocess.run(
        locust_command(
            [
                "--headless",
                "--host",
                f"http://127.0.0.1:{port}",
                "--model",
                MODEL,
                "--report-dir",
                str(tmp_path),
                "--wait-for-server",
                "3",
                *SMALL,
            ]
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert result.returncode == 2 and time.monotonic() - started_s < 20
    assert (
        len(errors) == 1 and errors[0].startswith("omniload: error: --wait-for-server: ") and "within 3 s" in errors[0]
    )


def test_a_model_the_server_does_not_list_is_not_ready() -> None:
    from harness.endpoint import Endpoint
    from harness.load.readiness import not_ready

    sim = start_sim(["--fixed", "5", "1", "--model", MODEL])
    try:
        assert not_ready(Endpoint(sim.base_url, MODEL, "")) is None
        assert "'other-model' is not among its models" in str(not_ready(Endpoint(sim.base_url, "other-model", "")))
    finally:
        sim.stop()
    assert "no answer" in str(not_ready(Endpoint(sim.base_url, MODEL, "")))  # stopped: refused
