"""`omniload grafana push` and stage annotations, against a recording stand-in for Grafana's HTTP API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim
from harness.resources import dashboard_path

from common import MODEL
from grafanastub import grafana_stub

TOKEN = "glsa_test_TOKEN_123"


def push(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "grafana",
            "push",
            "--grafana-url",
            url,
            "--prometheus-url",
            "http://prometheus:9090",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"GRAFANA_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"},
    )


def test_push_creates_then_updates_the_datasource_and_the_dashboard() -> None:
    dashboard = json.loads(Path(dashboard_path()).read_text())
    with grafana_stub() as stub:
        first, second = push(stub.url), push(stub.url)
    assert first.returncode == second.returncode == 0, first.stderr
    assert [(c.method, c.path) for c in stub.calls] == [
        ("GET", "/api/datasources/uid/prometheus"),
        ("POST", "/api/datasources"),
        ("POST", "/api/dashboards/db"),
        ("GET", "/api/datasources/uid/prometheus"),
        ("PUT", "/api/datasources/uid/prometheus"),
        ("POST", "/api/dashboards/db"),
    ]
    assert {c.authorization for c in stub.calls} == {f"Bearer {TOKEN}"}
    datasource = stub.calls[1].body
    assert (datasource["uid"], datasource["type"], datasource["url"]) == (
        "prometheus",
        "prometheus",
        "http://prometheus:9090",
    )
    assert stub.calls[2].body["overwrite"] is True and stub.calls[2].body["dashboard"] == dashboard
    assert TOKEN not in first.stdout + first.stderr + second.stdout + second.stderr


def test_each_stage_start_and_end_is_annotated(tmp_path: Path) -> None:
    sim = start_sim(["--fixed", "10", "1", "--model", MODEL])
    try:
        with grafana_stub() as stub:
            result = run_locust(
                [
                    "--headless",
                    "--host",
                    sim.base_url,
                    "--model",
                    MODEL,
                    "--report-dir",
                    str(tmp_path),
                    "--parallel",
                    "1",
                    "2",
                    "--number",
                    "1",
                    "2",
                    "--sleep-interval",
                    "0",
                    "--max-tokens",
                    "4",
                    "--image-num",
                    "0",
                    "--min-prompt-length",
                    "32",
                    "--max-prompt-length",
                    "32",
                    "--grafana-url",
                    stub.url,
                    "--metrics-port",
                    "0",
                ],
                env={"GRAFANA_TOKEN": TOKEN},
            )
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    annotations = [c.body for c in stub.calls if (c.method, c.path) == ("POST", "/api/annotations")]
    assert [a["text"] for a in annotations] == [
        "stage 1 start: parallel 1, number 1",
        "stage 1 end: parallel 1, number 1",
        "stage 2 start: parallel 2, number 2",
        "stage 2 end: parallel 2, number 2",
    ]
    assert all(a["dashboardUID"] == "omniload" and a["tags"][:2] == ["omniload", "stage"] for a in annotations)
    assert [a["time"] for a in annotations] == sorted(a["time"] for a in annotations)
    assert stub.url not in (tmp_path / "summary.json").read_text() and TOKEN not in result.stdout + result.stderr


def test_push_without_credentials_is_refused_before_connecting() -> None:
    with grafana_stub() as stub:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "harness.cli",
                "grafana",
                "push",
                "--grafana-url",
                stub.url,
                "--prometheus-url",
                "http://prometheus:9090",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin"},
        )
    assert result.returncode == 2 and stub.calls == []
    assert result.stderr.strip().splitlines() == [
        "omniload grafana: error: argument --grafana-url: no credentials: set $GRAFANA_TOKEN (a service account "
        "token) or $GRAFANA_USER and $GRAFANA_PASSWORD"
    ]


def test_a_failed_push_names_host_port_and_cause_without_the_secret() -> None:
    from harness.devtools.promserver import free_port

    port = free_port()  # nothing listens there
    result = push(f"http://127.0.0.1:{port}")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1
    assert lines[0].startswith(f"omniload grafana: error: push to 127.0.0.1:{port} failed: ") and "refused" in lines[0]
    assert TOKEN not in result.stderr
