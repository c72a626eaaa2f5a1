"""Live metrics through a real Prometheus during a 2-worker sweep, and the dashboard's every query.

Prometheus scrapes the Locust master and the simulator (vLLM's metrics) every second.
After the run, through Prometheus's HTTP API: the client TTFT p90 from histogram_quantile
falls in the same bucket as the run's own p90 (or the next), the completion-token
counter equals the run's total, and every expression in dashboards/omniload.json
(variables resolved) returns data.
"""

from __future__ import annotations

import bisect
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.buckets import CLIENT_TTFT_BUCKETS_S
from harness.devtools.locustproc import locust_command, run_locust
from harness.devtools.promserver import free_port, start_prometheus
from harness.devtools.simprocess import start_sim
from harness.master.stats import percentile
from harness.records import RequestRecord, read_records
from harness.resources import dashboard_path

from common import MODEL, REPO

DASHBOARD = Path(dashboard_path())
MASTER_HOST = "127.0.0.2"
LINGER_S = 4.0
RATE_INTERVAL = "1m"


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    exprs += [annotation["expr"] for annotation in dashboard["annotations"]["list"]]
    return [expr.replace("$model", MODEL).replace("$__rate_interval", RATE_INTERVAL) for expr in exprs]


def test_prometheus_sees_the_sweep_as_the_report_does(tmp_path: Path) -> None:
    metrics_port = free_port()
    # spoken answers too (--talker, --audio-output): every dashboard panel, the speech row included, has data
    talker = ["--talker", "--talker-rtf", "0.1", "--talker-seconds-per-token", "0.02"]
    sim = start_sim(["--fixed", "30", "2", "--model", MODEL, *talker])
    sim_target = sim.base_url.removeprefix("http://")
    prometheus = start_prometheus(tmp_path, {"omniload": f"127.0.0.1:{metrics_port}", "vllm": sim_target})
    report = tmp_path / "r"
    master_port = free_port(MASTER_HOST)
    workers = [
        subprocess.Popen(
            locust_command(["--worker", "--master-host", MASTER_HOST, "--master-port", str(master_port)]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        result = run_locust(
            [
                "--master",
                "--master-bind-host",
                MASTER_HOST,
                "--master-bind-port",
                str(master_port),
                "--expect-workers",
                "2",
                "--headless",
                "--host",
                sim.base_url,
                "--model",
                MODEL,
                "--report-dir",
                str(report),
                "--parallel",
                "2",
                "4",
                "--number",
                "12",
                "24",
                "--sleep-interval",
                "1",
                "--max-tokens",
                "48",
                "--image-width",
                "64",
                "--image-height",
                "64",
                "--min-prompt-length",
                "128",
                "--max-prompt-length",
                "128",
                "--metrics-port",
                str(metrics_port),
                "--metrics-linger",
                str(LINGER_S),
                "--audio-output",
            ]
        )
        ended_at = time.time() - LINGER_S / 2  # while the master still served its final values
        assert result.returncode == 0, result.stderr[-3000:]
        for worker in workers:
            worker.wait(30)
        records = [r for r in read_records(str(report / "requests.jsonl")) if not r.warmup]
        summary = json.loads((report / "summary.json").read_text())

        completion = prometheus.query(
            f'max_over_time(omniload_completion_tokens_total{{model="{MODEL}"}}[10m])', ended_at
        )
        total_completion = sum(r.completion_tokens or 0 for r in records if r.status == "ok")
        assert total_completion == sum(s["completion_tokens"]["mean"] * s["succeeded"] for s in summary["stages"])
        assert float(completion[0]["value"][1]) == total_completion

        estimate = prometheus.query(
            "histogram_quantile(0.9, sum by (le) (max_over_time("
            f'omniload_ttft_seconds_bucket{{model="{MODEL}"}}[10m])))',
            ended_at,
        )
        p90_s = percentile(sorted(r.ttft_s for r in records if r.status == "ok" and r.ttft_s is not None), 90)
        bucket_of = lambda value: bisect.bisect_left(CLIENT_TTFT_BUCKETS_S, value)  # noqa: E731
        assert abs(bucket_of(float(estimate[0]["value"][1])) - bucket_of(p90_s)) <= 1

        # spoken answers through two workers: every answer's audio seconds reach the master and Prometheus
        audio_s = sum(r.audio_out_s or 0.0 for r in records if r.status == "ok")
        assert [s["speech"]["answers"] for s in summary["stages"]] == [s["succeeded"] for s in summary["stages"]]
        heard = prometheus.query(f'max_over_time(omniload_audio_seconds_total{{model="{MODEL}"}}[10m])', ended_at)
        assert audio_s > 0 and float(heard[0]["value"][1]) == pytest.approx(audio_s, rel=1e-9)

        empty = [expr for expr in dashboard_queries() if not prometheus.query(expr, ended_at)]
        assert empty == []
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        prometheus.stop()
        sim.stop()


def test_compose_and_prometheus_config_are_valid() -> None:
    compose = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(REPO / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
    )
    assert compose.returncode == 0, compose.stdout + compose.stderr
    for config in ("prometheus.yml", "prometheus-local.yml"):  # the compose stack's, and one machine's
        promtool = subprocess.run(
            ["promtool", "check", "config", str(REPO / "dashboards" / config)], capture_output=True, text=True
        )
        assert promtool.returncode == 0, promtool.stdout + promtool.stderr
        for target in re.findall(r"targets: \[(.*?)\]", (REPO / "dashboards" / config).read_text()):
            assert target  # every job scrapes something
    assert "'127.0.0.1:9646'" in (REPO / "dashboards" / "prometheus-local.yml").read_text()  # the default address


def test_metrics_render_cheaply_with_bounded_labels() -> None:
    from prometheus_client import generate_latest

    from harness.master.metrics import LiveMetrics

    metrics = LiveMetrics(MODEL)
    for worker in range(8):
        record = RequestRecord(
            "r",
            0,
            worker,
            0,
            0.0,
            1024,
            ttft_s=0.05,
            tpot_s=0.01,
            latency_s=1.0,
            itl_s=[0.01] * 100,
            prompt_tokens=1282,
            completion_tokens=100,
        )
        for _ in range(200):
            metrics.observe(record, worker_cpu_s=1.0)
    started_s = time.perf_counter()
    page = generate_latest(metrics.registry)
    render_s = time.perf_counter() - started_s
    assert render_s < 0.05  # one scrape of 8 workers' metrics costs well under a frame
    assert b"request_id" not in page and len(page.splitlines()) < 400


def test_spoken_answers_feed_the_speech_series() -> None:
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from harness.master.metrics import LiveMetrics

    metrics = LiveMetrics(MODEL)
    spoken = RequestRecord(
        "r", 0, 0, 0, 0.0, 32, ttft_s=0.05, ttfa_s=0.2, audio_out_s=1.5, audio_rtf=0.6, underruns=2, underrun_s=0.3
    )
    metrics.observe(spoken)
    metrics.observe(RequestRecord("t", 0, 0, 0, 0.0, 32, ttft_s=0.05))  # text only: no speech figures
    seen = {
        sample.name: sample.value
        for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
        for sample in family.samples
        if sample.labels.get("class") == "load"
    }
    assert seen["omniload_ttfa_seconds_count"] == 1 and seen["omniload_ttfa_seconds_sum"] == 0.2
    assert seen["omniload_audio_rtf_count"] == 1 and seen["omniload_audio_seconds_total"] == 1.5
    assert seen["omniload_audio_underruns_total"] == 2 and seen["omniload_audio_underrun_seconds_total"] == 0.3
