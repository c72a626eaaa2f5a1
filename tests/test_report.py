"""report.html, `omniload report A B` and `omniload app`, checked in real headless Chromium.

One real run (a sweep through Locust plus the OmniBench pass, against a simulator that
needs an API key) feeds every browser test. Every request that is not for the file or
the app itself is blocked and counted: the report must need none.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.devtools.browser import browser_page
from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim
from harness.omnibench.dataset import bundled_sample_path
from harness.records import RequestRecord
from harness.report.html import SIZE_BUDGET_BYTES, Run, render_report, wilson_interval

from common import MODEL, omniload

API_KEY = "sk-report-secret-5d1e"
GRAFANA_PASSWORD = "grafana-report-pw-0b7a"
RUN_ARGS = [
    "--headless",
    "--model",
    MODEL,
    "--parallel",
    "1",
    "3",
    "--number",
    "3",
    "6",
    "--sleep-interval",
    "0",
    "--max-tokens",
    "24",
    "--image-width",
    "64",
    "--image-height",
    "64",
    "--min-prompt-length",
    "64",
    "--max-prompt-length",
    "64",
    "--metrics-port",
    "0",
    "--api-key",
    API_KEY,
    "--omnibench",
    "--omnibench-concurrency",
    "4",
    "--grafana-url",
    f"http://admin:{GRAFANA_PASSWORD}@127.0.0.1:9",
]
APP_DEADLINE_S = 30.0


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A results directory with two real runs, a and b (b with one server fault in five)."""
    results = tmp_path_factory.mktemp("results")
    for name, faults in (("a", []), ("b", ["--faults", "http_503", "--fault-rate", "0.2"])):
        sim = start_sim(
            [
                "--fixed",
                "10",
                "2",
                "--model",
                MODEL,
                "--api-key",
                API_KEY,
                "--answer-key",
                bundled_sample_path(),
                "--answer-accuracy",
                "0.75",
                *faults,
            ]
        )
        try:
            result = run_locust([*RUN_ARGS, "--host", sim.base_url, "--report-dir", str(results / name)])
        finally:
            sim.stop()
        assert result.returncode in (0, 1), result.stderr[-3000:]
        assert f"report: {results / name / 'report.html'}" in result.stdout
    yield results


def file_url(path: Path) -> str:
    return "file://" + str(path.resolve())


def test_the_report_opens_offline_with_every_chart_drawn(runs: Path) -> None:
    report = runs / "a" / "report.html"
    text = report.read_text()
    for secret in (API_KEY, GRAFANA_PASSWORD):
        assert secret not in text
    with browser_page() as (page, log):
        page.goto(file_url(report))
        page.wait_for_load_state("load")
        charts = page.locator("figure.chart")
        assert charts.count() >= 15
        marks = page.evaluate(
            "[...document.querySelectorAll('figure.chart svg')].map(s => s.querySelectorAll('.mark').length)"
        )
        assert all(count > 0 for count in marks), marks
        assert page.locator("#server figure.chart").count() >= 4  # the server's own metrics, scraped during the run
        assert page.locator("table.stages tbody tr").count() == 2
        page.screenshot(path=str(runs / "a" / "report.png"), full_page=True)
    assert log.console_errors == [] and log.blocked_requests == []


def test_the_sample_browser_filters_searches_pages_and_plays_audio(runs: Path) -> None:
    with browser_page() as (page, log):
        page.goto(file_url(runs / "a" / "report.html"))
        visible = "document.querySelectorAll('#samples .sample:not(.hidden)').length"
        assert page.evaluate(visible) == 10  # a page of 10 out of 24
        page.keyboard.press("ArrowRight")
        assert "page 2 of 3" in page.inner_text("#page")
        page.select_option("#status-filter", "wrong")
        wrong = page.evaluate(visible)
        assert wrong == 6  # the answer key is right for 75 % of 24
        assert page.evaluate(
            "[...document.querySelectorAll('#samples .sample:not(.hidden)')].every(r => r.dataset.status === 'wrong')"
        )
        page.select_option("#status-filter", "")
        page.fill("#search", "card 7.")
        assert page.evaluate(visible) == 1
        audio = page.evaluate("""() => new Promise(resolve => {
            const a = document.querySelector('#samples audio');
            a.addEventListener('loadedmetadata', () => resolve({duration: a.duration, src: a.src.slice(0, 16)}));
            a.addEventListener('error', () => resolve({error: a.error && a.error.code}));
            a.load(); })""")
        assert audio.get("duration", 0) > 0 and audio["src"].startswith("data:audio/"), audio
    assert log.console_errors == [] and log.blocked_requests == []


def test_comparison_of_two_runs(runs: Path, tmp_path: Path) -> None:
    result = omniload("report", str(runs / "a"), str(runs / "b"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = runs / "comparison-a-vs-b.html"  # beside the first run, not in the current directory
    said = result.stdout.strip().splitlines()
    assert said[-1] == str(out) and list(tmp_path.iterdir()) == []
    assert said[0].startswith("b against a, stage 1: TTFT p50 ")  # each stage's verdicts first
    with browser_page() as (page, log):
        page.goto(file_url(out))
        assert page.locator("table.stages").count() == 2
        assert page.locator("#deltas tbody tr").count() == 2
        headers = page.locator("#deltas thead th").all_inner_texts()
        assert {"Avg TTFT(ms)", "P50 TTFT(ms)", "P99 TPOT(ms)", "Success"} <= set(headers)  # every stage column
        series = page.evaluate(
            "[...document.querySelectorAll('#charts figure.chart')].map(f => f.querySelectorAll('.key').length)"
        )
        drawn = [count for count in series if count]  # a p99 of stages this small is "few": not drawn
        assert len(drawn) >= 3 and all(count == 2 for count in drawn)  # both runs overlaid in every drawn chart
    assert log.console_errors == [] and log.blocked_requests == []


def test_a_comparison_says_how_the_runs_differed() -> None:
    from harness.report.html import config_differences

    def run(name: str, config: dict, workers: int) -> Run:
        return Run(
            Path(name),
            {
                "config": {"max_tokens": 64, "report_dir": name, **config},
                "stages": [],
                "workers": {str(index): {} for index in range(workers)},
            },
            [],
        )

    html = config_differences([run("one", {"image_num": 1}, 1), run("two", {"image_num": 0}, 3)])
    assert "image_num" in html and "load generators" in html
    assert "max_tokens" not in html and "report_dir" not in html  # the same, or different by nature


def test_the_app_lists_runs_opens_a_report_and_compares(runs: Path) -> None:
    app = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "app", str(runs), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert app.stdout is not None
        line = app.stdout.readline()
        base = line.split("serving on ")[1].split()[0].rstrip("/")
        with urllib.request.urlopen(base + "/", timeout=10) as response:
            assert b"/run/a" in response.read()
        with browser_page(allowed_prefix=base) as (page, log):
            page.goto(base + "/")
            page.check("input[value=a]")
            page.check("input[value=b]")
            page.click("button[type=submit]")
            page.wait_for_selector("#deltas")
            page.goto(base + "/run/a")
            assert page.locator("#samples .sample").count() == 24
            image_ok = page.evaluate(
                "() => { const i = document.querySelector('#samples img'); return i.complete && i.naturalWidth > 0; }"
            )
            assert image_ok
            page.screenshot(path=str(runs / "a" / "app.png"))
        assert log.console_errors == [] and log.blocked_requests == []
    finally:
        app.terminate()
        app.wait(10)


def test_the_app_refuses_a_non_loopback_default() -> None:
    from harness.report.app import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def test_a_ten_thousand_request_run_stays_under_the_size_budget(tmp_path: Path) -> None:
    records = []
    for index in range(10_000):
        stage = index // 2000
        record = RequestRecord(
            f"r{index}",
            stage,
            index % 4,
            index % 50,
            1000.0 + index * 0.05,
            1024,
            duration_s=20.0,
            ttft_s=0.2 + (index % 97) / 1000,
            latency_s=20.0,
            tpot_s=0.02,
            itl_s=[0.02] * 1023,
            prompt_tokens=1282,
            completion_tokens=1024,
        )
        if index % 500 == 0:
            record.fail("http_503", "Service unavailable (simulated)")
        records.append(record)
    stage = {
        "parallel": 50,
        "number": 2000,
        "sent": 2000,
        "succeeded": 1996,
        "failed": 4,
        "wall_time_s": 100.0,
        "rps": 19.96,
        "output_tokens_per_s": 20000.0,
        "total_tokens_per_s": 45000.0,
        "success_rate": 0.998,
        "errors": {"http_503": 4},
        "streams_without_done": 0,
    }
    for metric in ("ttft_s", "tpot_s", "itl_s", "latency_s", "prompt_tokens", "completion_tokens"):
        stage[metric] = {key: 1.0 for key in ("mean", "min", "p50", "p90", "p95", "p99", "max")}
    summary = {
        "model": MODEL,
        "started_at": "2026-11-26T00:00:00Z",
        "config": {"api_path": "/v1/chat/completions"},
        "stages": [dict(stage, parallel=p) for p in (10, 20, 50, 100, 200)],
    }
    html = render_report(Run(tmp_path, summary, records))
    assert len(html.encode()) < SIZE_BUDGET_BYTES, len(html.encode())
    assert "600 of 2000 shown" in html


def test_wilson_interval() -> None:
    low, high = wilson_interval(18, 24)
    assert (round(low, 3), round(high, 3)) == (0.551, 0.880)
    assert wilson_interval(0, 0) == (0.0, 0.0)


def test_requests_in_flight_over_time() -> None:
    from harness.report.html import in_flight_curve

    records = [
        RequestRecord("a", 0, 0, 0, 10.0, 1, duration_s=2.0),
        RequestRecord("b", 0, 0, 0, 11.0, 1, duration_s=2.0),
    ]
    assert in_flight_curve(records, 10.0, points=6) == [
        (0.0, 1.0),
        (0.5, 1.0),
        (1.0, 2.0),
        (1.5, 2.0),
        (2.0, 1.0),
        (2.5, 1.0),
        (3.0, 0.0),
    ]


def test_a_rate_sweep_is_charted_against_the_rate_with_its_lateness(tmp_path: Path) -> None:
    sim = start_sim(["--fixed", "10", "2", "--model", MODEL])
    report = tmp_path / "rates"
    try:
        result = run_locust(
            [
                "--headless",
                "--model",
                MODEL,
                "--host",
                sim.base_url,
                "--report-dir",
                str(report),
                "--open-loop",
                "--rate",
                "10",
                "20",
                "--number",
                "10",
                "20",
                "--sleep-interval",
                "0",
                "--max-tokens",
                "8",
                "--image-width",
                "64",
                "--image-height",
                "64",
                "--min-prompt-length",
                "64",
                "--max-prompt-length",
                "64",
                "--metrics-port",
                "0",
            ]
        )
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    with browser_page() as (page, log):
        page.goto(file_url(report / "report.html"))
        page.wait_for_load_state("load")
        assert page.locator("#charts h2").inner_text() == "Against request rate"
        lateness = page.locator("figure.chart", has_text="Lateness against the schedule")
        assert lateness.count() == 1 and lateness.locator(".mark").count() >= 2
        headers = page.locator("table.stages thead th").all_inner_texts()
        assert "Rate" in headers and "P99 Late(ms)" in headers
        assert page.locator("figure.chart", has_text="Lateness (send - due)").count() == 2  # one per stage
    assert log.console_errors == [] and log.blocked_requests == []


def test_the_sla_search_shows_each_groups_answer(tmp_path: Path) -> None:
    stage = {
        "parallel": 4,
        "number": 8,
        "sent": 8,
        "succeeded": 8,
        "failed": 0,
        "wall_time_s": 1.0,
        "rps": 8.0,
        "output_tokens_per_s": 80.0,
        "total_tokens_per_s": 90.0,
        "success_rate": 1.0,
        "errors": {},
        "streams_without_done": 0,
    }
    for metric in ("ttft_s", "tpot_s", "itl_s", "latency_s", "prompt_tokens", "completion_tokens"):
        stage[metric] = {key: 0.1 for key in ("mean", "min", "p50", "p90", "p95", "p99", "max")}
    sla = [
        {
            "criteria": "p99_ttft <= 0.1",
            "variable": "parallel",
            "max_satisfied": 4,
            "note": "satisfied",
            "tried": [1, 2, 4, 8, 6, 5],
        }
    ]
    html = render_report(Run(tmp_path, {"model": MODEL, "stages": [stage], "sla": sla, "config": {}}, []))
    assert '<section id="sla">' in html and "<td>p99_ttft &lt;= 0.1</td><td>parallel</td><td>4</td>" in html
    assert "1 2 4 8 6 5" in html
