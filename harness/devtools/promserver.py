"""A local Prometheus server (Debian's `prometheus`) on a free loopback port: for `make demo` and the tests."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

READY_DEADLINE_S = 30.0
SCRAPE_INTERVAL = "1s"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@dataclass
class Prometheus:
    """A running Prometheus server (ours, by PID) and its URL; queried by the demo and tests."""

    process: subprocess.Popen[bytes]
    url: str

    def query(self, expr: str, at_s: float) -> list[dict[str, Any]]:
        """An instant query's result vector (raises on a PromQL error)."""
        params = urllib.parse.urlencode({"query": expr, "time": f"{at_s:.3f}"})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{params}", timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_prometheus(workdir: Path, targets: dict[str, str]) -> Prometheus:
    """targets: job name -> host:port (scraped at /metrics every second)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    jobs = "".join(
        f"  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n" for job, target in targets.items()
    )
    config.write_text(
        f"global:\n  scrape_interval: {SCRAPE_INTERVAL}\n  evaluation_interval: {SCRAPE_INTERVAL}\n"
        f"scrape_configs:\n{jobs}"
    )
    port = free_port()
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=open(workdir / "prometheus.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_DEADLINE_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=1) as response:
                if response.status == 200:
                    return Prometheus(process, url)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("prometheus did not become ready:\n" + (workdir / "prometheus.log").read_text()[-2000:])
