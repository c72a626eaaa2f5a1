"""Locust's web UI with omniload: the "omniload stages" tab, and secrets kept out of the page.

Served by a real Locust process (not headless) against a simulator that, like vLLM with
--api-key, answers 401 without the right bearer token.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.devtools.locustproc import locust_command
from harness.devtools.promserver import free_port
from harness.devtools.simprocess import SimProcess, start_sim

from common import MODEL

DEADLINE_S = 90.0
API_KEY = "sk-omniload-secret-7f3a"
GRAFANA_PASSWORD = "grafana-pw-91c2"
SMALL = [
    "--max-tokens",
    "8",
    "--image-num",
    "0",
    "--min-prompt-length",
    "32",
    "--max-prompt-length",
    "32",
    "--metrics-port",
    "0",
]


@pytest.fixture()
def keyed_sim() -> Iterator[SimProcess]:
    sim = start_sim(["--fixed", "10", "1", "--model", MODEL, "--api-key", API_KEY])
    yield sim
    sim.stop()


def get(port: int, path: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return response.read()


def stage_rows(port: int) -> list[dict]:
    stats = json.loads(get(port, "/stats/requests"))
    return next(t["data"] for t in stats.get("extended_stats", []) if t["key"] == "omniload-stages")


def locust_rows(port: int) -> dict[str, dict]:
    """Locust's own statistics rows by name."""
    return {row["name"]: row for row in json.loads(get(port, "/stats/requests"))["stats"]}


def wait_for_rows(port: int, done: int) -> list[dict]:
    rows: list[dict] = []
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        try:
            rows = stage_rows(port)
            if len(rows) == 2 and rows[1]["sent"] == done:
                return rows
        except (OSError, StopIteration):
            pass
        time.sleep(0.5)
    return rows


def start_locust(sim: SimProcess, port: int, report: Path, extra: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        locust_command(
            [
                "--web-host",
                "127.0.0.1",
                "--web-port",
                str(port),
                "--host",
                sim.base_url,
                "--model",
                MODEL,
                "--report-dir",
                str(report),
                "--parallel",
                "1",
                "2",
                "--number",
                "2",
                "4",
                "--sleep-interval",
                "0",
                "--api-key",
                API_KEY,
                "--grafana-url",
                f"http://admin:{GRAFANA_PASSWORD}@127.0.0.1:9",
                *SMALL,
                *extra,
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop(locust: subprocess.Popen[bytes]) -> str:
    locust.terminate()
    _, stderr = locust.communicate(timeout=30)
    return stderr.decode()


def test_stage_table_is_served_and_secrets_stay_out_of_the_page(keyed_sim: SimProcess, tmp_path: Path) -> None:
    port = free_port()
    locust = start_locust(keyed_sim, port, tmp_path, ["--autostart", "--autoquit", "30"])
    try:
        rows = wait_for_rows(port, done=4)
        page = get(port, "/").decode()
        locust_stats = locust_rows(port)
    finally:
        log = stop(locust)
    assert [(r["name"], r["parallel"], r["number"], r["sent"], r["failed"]) for r in rows] == [
        ("stage 1", 1, 2, 2, 0),
        ("stage 2", 2, 4, 4, 0),
    ]
    assert all(isinstance(r["p90_ttft_ms"], float) and r["p90_ttft_ms"] > 0 for r in rows)
    assert "omniload stages" in page  # the tab is declared to the UI
    # TTFT and TPOT are rows of Locust's own statistics (and so lines in its charts), successes only
    requests = locust_stats["/v1/chat/completions"]
    assert requests["num_requests"] > 0 and requests["num_failures"] == 0
    for row in ("[ttft]", "[tpot]"):  # one per successful request, as Locust counted them
        assert locust_stats[row]["num_requests"] == requests["num_requests"]
        assert locust_stats[row]["num_failures"] == 0 and 0 < locust_stats[row]["avg_response_time"] < 1000
    assert locust_stats["Aggregated"]["num_requests"] == requests["num_requests"]  # requests sent, not rows
    assert '"api_key"' in page and '"grafana_url"' in page  # the fields are there, masked and empty
    for secret in (API_KEY, GRAFANA_PASSWORD):
        assert secret not in page and secret not in log
        assert all(secret not in path.read_text() for path in tmp_path.iterdir() if path.is_file())


def test_a_blank_secret_in_the_start_form_keeps_the_command_lines_key(keyed_sim: SimProcess, tmp_path: Path) -> None:
    port = free_port()
    locust = start_locust(keyed_sim, port, tmp_path, [])
    try:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:  # the UI is up
            try:
                get(port, "/")
                break
            except OSError:
                time.sleep(0.2)
        form = urllib.parse.urlencode(
            {
                "user_count": "1",
                "spawn_rate": "1",
                "host": keyed_sim.base_url,
                "api_key": "",
                "grafana_url": "",
                "model": MODEL,
            }
        ).encode()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/swarm", data=form, timeout=5) as response:
            assert json.load(response)["success"]
        rows = wait_for_rows(port, done=4)
    finally:
        stop(locust)
    # every request carried the key given on the command line: none was refused with 401
    assert [(r["sent"], r["failed"]) for r in rows] == [(2, 0), (4, 0)]


def test_the_real_start_form_starts_the_run_it_shows(keyed_sim: SimProcess, tmp_path: Path) -> None:
    """Locust's own page in Chromium, START clicked with every field as shown: accepted, and the run is the
    command line's (the form's unchanged omniload fields, "" for empty lists among them, are not copied back)."""
    from harness.devtools.browser import browser_page

    port = free_port()
    locust = start_locust(keyed_sim, port, tmp_path, [])
    answers: list[str] = []
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + DEADLINE_S
        with browser_page(allowed_prefix=url) as (page, _):
            while time.monotonic() < deadline:
                try:
                    page.goto(url)
                    break
                except Exception:  # the UI is not up yet
                    time.sleep(0.2)
            page.on("response", lambda response: answers.append(response.text()) if "/swarm" in response.url else None)
            page.get_by_role("button", name="Start").first.click()
            while not answers and time.monotonic() < deadline:
                page.wait_for_timeout(100)
        rows = wait_for_rows(port, done=4)
    finally:
        stop(locust)
    assert answers and json.loads(answers[0])["success"] is True, answers
    assert [(r["sent"], r["failed"]) for r in rows] == [(2, 0), (4, 0)]  # the key and the sweep of the command line
