"""The "omniload stages" tab of Locust's web UI, served by a real Locust process (not headless)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

from conftest import MODEL
from harness.devtools.locustproc import locust_command

from harness.devtools.promserver import free_port
from harness.devtools.simprocess import start_sim

DEADLINE_S = 90.0


def test_stage_table_is_served_with_the_stats(tmp_path: Path) -> None:
    sim = start_sim(["--fixed", "10", "1", "--model", MODEL])
    port = free_port()
    locust = subprocess.Popen(locust_command(["--web-host", "127.0.0.1", "--web-port", str(port), "--autostart",
                                              "--autoquit", "30", "--host", sim.base_url, "--model", MODEL,
                                              "--report-dir", str(tmp_path), "--parallel", "1", "2", "--number",
                                              "2", "4", "--sleep-interval", "0", "--max-tokens", "8",
                                              "--image-num", "0", "--min-prompt-length", "32",
                                              "--max-prompt-length", "32", "--metrics-port", "0"]),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    rows: list[dict] = []
    try:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats/requests", timeout=5) as response:
                    stats = json.load(response)
                rows = next(t["data"] for t in stats.get("extended_stats", []) if t["key"] == "omniload-stages")
                if len(rows) == 2 and rows[1]["sent"] == 4:
                    break
            except (OSError, StopIteration):
                pass
            time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            page = response.read().decode()
    finally:
        locust.terminate()
        locust.wait(30)
        sim.stop()
    assert [(r["name"], r["parallel"], r["number"], r["sent"], r["failed"]) for r in rows] == [
        ("stage 1", 1, 2, 2, 0), ("stage 2", 2, 4, 4, 0)]  # fmt: skip
    assert all(isinstance(r["p90_ttft_ms"], float) and r["p90_ttft_ms"] > 0 for r in rows)
    assert "omniload stages" in page  # the tab is declared to the UI
