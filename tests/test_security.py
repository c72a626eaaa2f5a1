"""A hostile server and a careless or malicious user against omniload's outputs and doors.

One real run (Locust sweep, server scrape and OmniBench pass) against tests/hostile.py,
which puts markup, terminal escapes, wrong types and deep JSON in every field it
controls. Its report and `omniload app` are opened in headless Chromium, counting script
dialogs and inline event handlers; the console is read for terminal escapes.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import safejson
from harness.devtools.browser import browser_page
from harness.devtools.locustproc import locust_command, run_locust
from harness.devtools.promserver import free_port
from harness.devtools.simprocess import start_sim
from harness.report.server_metrics import parse_scrape
from harness.visible import visible

from common import MODEL, headless
from hostile import DEEP, HOSTILE, MARKUP, hostile_server

RUN = [
    "--headless",
    "--model",
    MODEL,
    "--parallel",
    "2",
    "--number",
    "12",
    "--max-tokens",
    "3",
    "--image-num",
    "0",
    "--min-prompt-length",
    "32",
    "--max-prompt-length",
    "32",
    "--sleep-interval",
    "0",
    "--metrics-port",
    "0",
    "--omnibench",
    "--omnibench-limit",
    "10",
]
APP_DEADLINE_S = 30.0
# Every element with an on* attribute, and every script element, in the live page.
COUNT_HANDLERS = (
    "[...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => /^on/i.test(a.name))).length"
)
COUNT_SCRIPTS = "document.querySelectorAll('script').length"


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, subprocess.CompletedProcess[str]]]:
    results = tmp_path_factory.mktemp("hostile")
    with hostile_server() as url:
        result = run_locust([*RUN, "--host", url, "--report-dir", str(results / "run one")])
    yield results, result


def opened(page: object, url: str) -> dict[str, object]:
    """Load url; what ran: dialogs raised, elements with inline handlers, script elements, the text shown."""
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))  # type: ignore[attr-defined]
    page.goto(url)  # type: ignore[attr-defined]
    page.wait_for_timeout(500)  # type: ignore[attr-defined]  # an onerror fires after the image fails
    return {
        "dialogs": dialogs,
        "handlers": page.evaluate(COUNT_HANDLERS),  # type: ignore[attr-defined]
        "scripts": page.evaluate(COUNT_SCRIPTS),
        "text": page.inner_text("body"),
    }  # type: ignore[attr-defined]


def test_the_run_survives_and_keeps_every_fault(hostile_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    results, result = hostile_run
    run = results / "run one"
    assert result.returncode == 1, result.stderr[-3000:]  # faults: never a silent success, never a crash
    assert (run / "report.html").exists() and "Traceback" not in result.stderr
    records = [json.loads(line) for line in (run / "requests.jsonl").read_text().splitlines()]
    reasons = {record["error"]["reason"] for record in records if record["error"]}
    assert {"malformed_event", "http_500", "server_error_event", "http_400"} <= reasons
    assert sum(record["status"] == "ok" for record in records) == 2 and len(records) == 12
    samples = [json.loads(line) for line in (run / "omnibench" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 10 and {s["status"] for s in samples} == {"ok", "error"}
    assert all(s["usage"] is None or all(isinstance(v, int) for v in s["usage"].values()) for s in samples)
    # the server's escapes were kept as text, never written raw to the terminal or a file
    for text in (result.stdout, result.stderr, *(path.read_text() for path in run.rglob("*.json*"))):
        assert "\x1b" not in text and "\x07" not in text and "\romniload" not in text


def test_the_report_runs_no_server_script(hostile_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    report = hostile_run[0] / "run one" / "report.html"
    with browser_page() as (page, log):
        seen = opened(page, "file://" + str(report))
    assert seen["dialogs"] == [] and seen["handlers"] == 0 and seen["scripts"] == 1
    assert "onerror=alert(1)" in str(seen["text"])  # shown, as text
    assert log.blocked_requests == []


def test_the_policy_stops_script_that_escaping_missed(
    hostile_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    """The Content-Security-Policy is a second wall: markup injected into the page raw still does not run."""
    text = (hostile_run[0] / "run one" / "report.html").read_text()
    injected = '<img src="data:," onerror="alert(7)"><script>alert(8)</script>'
    with_policy, without_policy = tmp_path / "with.html", tmp_path / "without.html"
    with_policy.write_text(text.replace("<h1>", injected + "<h1>", 1))
    without_policy.write_text(
        re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text).replace("<h1>", injected + "<h1>", 1)
    )
    with browser_page() as (page, _):
        blocked = opened(page, "file://" + str(with_policy))
    with browser_page() as (page, _):
        control = opened(page, "file://" + str(without_policy))
    assert blocked["dialogs"] == []
    assert sorted(control["dialogs"]) == ["7", "8"]  # the same page without its policy runs both: the check can fail


@pytest.fixture(scope="module")
def app(
    hostile_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    results = hostile_run[0]
    outside = tmp_path_factory.mktemp("outside")
    (outside / "summary.json").write_text(json.dumps({"model": "leaked-run", "stages": []}))
    (results / "linked").symlink_to(outside, target_is_directory=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "app", str(results), "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = ""
    deadline = time.monotonic() + APP_DEADLINE_S
    while "serving on" not in line and time.monotonic() < deadline:
        line = process.stdout.readline()
    url = line.split()[2].rstrip("/")
    try:
        yield url, results
    finally:
        process.terminate()
        process.wait(timeout=10)


def get(url: str, path: str, host: str | None = None) -> tuple[int, bytes]:
    """GET a raw path (no client-side normalising) with an optional Host header."""
    address = url.removeprefix("http://")
    connection = http.client.HTTPConnection(address, timeout=10)
    connection.putrequest("GET", path, skip_host=True)
    connection.putheader("Host", host or address)
    connection.endheaders()
    response = connection.getresponse()
    return response.status, response.read()


def test_the_app_runs_no_server_script(app: tuple[str, Path]) -> None:
    url, _ = app
    for path in ("/", "/run/run%20one"):
        with browser_page(allowed_prefix=url) as (page, log):
            seen = opened(page, url + path)
        assert seen["dialogs"] == [] and seen["handlers"] == 0, path
        assert log.blocked_requests == [] and log.console_errors == [], path
    status, body = get(url, "/run/run%20one")
    assert status == 200 and b"<img src=x" not in body and b"&lt;img src=x" in body  # markup escaped


def test_the_app_refuses_what_it_should_with_one_line(app: tuple[str, Path]) -> None:
    url, results = app
    status, body = get(url, "/", host="attacker.example:80")
    assert status == 400 and body.count(b"\n") == 1  # a rebound DNS name reads nothing
    assert b"leaked-run" not in get(url, "/")[1]  # a link out of the results directory is not followed
    for path in (
        "/run/linked",
        "/run/..%2F..%2Fetc",
        "/run/../../etc/passwd",
        "/run/run%20one/media/x/image",
        "/run/run%20one/media/99999/image",
        "/run/run%20one/media/1/script",
        "/nothing",
    ):
        status, body = get(url, path)
        assert 400 <= status < 500 and body.count(b"\n") == 1 and b"Traceback" not in body, path
    names = "&".join(f"run=r{index}" for index in range(9))
    assert get(url, "/compare?" + names)[0] == 400  # capped
    assert get(url, "/compare?run=run%20one&run=run%20one")[0] == 400  # the same run twice is one run
    (results / "hub run").mkdir()
    (results / "hub run" / "summary.json").write_text(
        json.dumps({"model": "m", "stages": [], "omnibench": {"config": {"dataset": "someone/OmniBench"}}})
    )
    status, body = get(url, "/run/hub%20run/media/0/image")
    assert status == 404 and b"hub id" in body  # refused at once, nothing fetched


def test_an_endless_server_is_refused_before_load(tmp_path: Path) -> None:
    with hostile_server(endless=True) as url:
        started_s = time.monotonic()
        result = run_locust(
            headless(
                url,
                tmp_path,
                "--parallel",
                "1",
                "--number",
                "2",
                "--max-tokens",
                "8",
                "--read-timeout",
                "3",
                "--total-timeout",
                "5",
            )
        )
        elapsed_s = time.monotonic() - started_s
    lines = [line for line in result.stderr.splitlines() if line.startswith("omniload: error")]
    assert result.returncode == 2 and elapsed_s < 15, (elapsed_s, result.stderr[-2000:])
    assert len(lines) == 1 and "--host" in lines[0] and "did not end within 5 s" in lines[0]


def test_control_characters_are_made_visible() -> None:
    assert visible("a\x1b[2J\rb\u202ec\nd") == "a\\x1b[2J\\rb\\u202ec\\nd"
    assert visible("one\n\ttwo\x07", keep_lines=True) == "one\n\ttwo\\x07"
    assert visible("plain é 中") == "plain é 中"


def test_json_from_outside_is_parsed_with_limits() -> None:
    for text in (DEEP, '{"a": NaN}', "[Infinity]", "[" * 65 + "]" * 65):
        with pytest.raises(ValueError):
            safejson.loads(text)
    assert safejson.loads("[" * 64 + "]" * 64) is not None


def test_junk_in_a_servers_metrics_is_skipped_not_fatal() -> None:
    parsed = parse_scrape(
        [
            "vllm:num_requests_running 2",
            "vllm:num_requests_waiting +Inf",
            MARKUP + " 1 x",
            'vllm:time_to_first_token_seconds_bucket{le="<b>"} 3',
            "vllm:kv_cache_usage_perc 0.5",
        ]
    )
    assert parsed["vllm:num_requests_running"] == 2 and parsed["vllm:kv_cache_usage_perc"] == 0.5
    assert "vllm:num_requests_waiting" not in parsed and not parsed["buckets"]
    assert HOSTILE.startswith(MARKUP)


API_KEY = "sk-security-secret-4c1d"
GRAFANA_PASSWORD = "grafana-security-pw-88e0"
SMALL = [
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
JOIN_DEADLINE_S = 60.0


def master_command(sim_url: str, port: int, report: Path, extra: list[str]) -> list[str]:
    return locust_command(
        [
            "--master",
            "--master-bind-port",
            str(port),
            "--expect-workers",
            "1",
            "--headless",
            "--host",
            sim_url,
            "--model",
            MODEL,
            "--report-dir",
            str(report),
            "--parallel",
            "1",
            "--number",
            "2",
            "--api-key",
            API_KEY,
            "--grafana-url",
            f"http://admin:{GRAFANA_PASSWORD}@127.0.0.1:9",
            *SMALL,
            *extra,
        ]
    )


def test_a_worker_that_joins_receives_no_secret(tmp_path: Path) -> None:
    """A plain Locust client on the master port (as anyone could be) reads the spawn message: no key, no password."""
    port = free_port()
    sim = start_sim(["--fixed", "5", "1", "--model", MODEL, "--api-key", API_KEY])
    master = subprocess.Popen(
        master_command(sim.base_url, port, tmp_path, []), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        intruder = subprocess.run(
            [sys.executable, str(Path(__file__).parent / "intruder.py"), str(port)],
            capture_output=True,
            text=True,
            timeout=JOIN_DEADLINE_S * 2,
        )
    finally:
        master.kill()
        master.wait()
        sim.stop()
    received = [json.loads(line) for line in intruder.stdout.splitlines()]
    spawn = next(message for message in received if message["type"] == "spawn")
    options = spawn["data"]["parsed_options"]
    assert options["model"] == MODEL and "api_key" not in options and "grafana_url" not in options
    assert API_KEY not in intruder.stdout and GRAFANA_PASSWORD not in intruder.stdout


def test_workers_use_their_own_key(tmp_path: Path) -> None:
    """The master sends no key, so a real worker sends the one from its own environment (and it works)."""
    port = free_port()
    sim = start_sim(["--fixed", "5", "1", "--model", MODEL, "--api-key", API_KEY])
    worker = subprocess.Popen(
        locust_command(["--worker", "--master-port", str(port)]),
        env={**os.environ, "OPENAI_API_KEY": API_KEY},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        result = subprocess.run(
            master_command(sim.base_url, port, tmp_path / "r", []),
            capture_output=True,
            text=True,
            timeout=JOIN_DEADLINE_S * 2,
        )
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
        sim.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["stages"][0]["succeeded"] == 2 and list(summary["workers"]) == ["0"]
    assert "takes workers on 127.0.0.1" in result.stderr  # loopback unless --master-bind-host says otherwise


def test_the_web_ui_refuses_a_new_host_and_listens_on_loopback(tmp_path: Path) -> None:
    """A host typed into the start form would carry the command line's key elsewhere: refused, nothing sent."""
    port = free_port()
    with hostile_server() as other:
        sim = start_sim(["--fixed", "5", "1", "--model", MODEL, "--api-key", API_KEY])
        locust = subprocess.Popen(
            locust_command(
                [
                    "--web-port",
                    str(port),
                    "--host",
                    sim.base_url,
                    "--model",
                    MODEL,
                    "--report-dir",
                    str(tmp_path),
                    "--api-key",
                    API_KEY,
                    *SMALL,
                ]
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + JOIN_DEADLINE_S
            listening: list[str] = []
            while not listening and time.monotonic() < deadline:
                listening = [
                    line
                    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                    if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A"
                ]
                time.sleep(0.2)
            answers = {}
            for name, form in (
                ("host", {"user_count": "1", "spawn_rate": "1", "host": other, "api_key": ""}),
                ("model", {"user_count": "1", "spawn_rate": "1", "host": sim.base_url, "model": "another"}),
            ):
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/swarm", data=urllib.parse.urlencode(form).encode()
                )
                with urllib.request.urlopen(request, timeout=10) as response:
                    answers[name] = json.load(response)
        finally:
            locust.terminate()
            locust.wait(30)
            sim.stop()
    assert [line.split()[1].split(":")[0] for line in listening] == ["0100007F"]  # 127.0.0.1 only
    for name, answer in answers.items():
        assert answer["success"] is False and f"--{name}" in answer["message"]


def filled(arg: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        arg = arg.replace("{" + name + "}", value)
    return arg


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--report-dir", "{file}/run"], "--report-dir"),
        (["--metrics-port", "{port}", "--metrics-host", "10.255.255.1"], "--metrics-host"),
        (["--rate", "1e-300"], "--rate"),
        (["--extra-args", '{"top_p": NaN}'], "--extra-args"),
        (
            ["--sla-auto-tune", "--sla-params", '[{"p99_latency": "<=2"}]', "--sla-lower-bound", "0.5"],
            "--sla-lower-bound",
        ),
        (["--host", "http://user:pw-3141@{sim}"], "--host"),
    ],
)
def test_bad_input_exits_2_with_one_line_before_any_request(args: list[str], flag: str, tmp_path: Path) -> None:
    sim = start_sim(["--fixed", "5", "1", "--model", MODEL], ground_truth=str(tmp_path / "gt.jsonl"))
    (tmp_path / "a-file").write_text("")
    values = {"file": str(tmp_path / "a-file"), "port": str(free_port()), "sim": sim.base_url.removeprefix("http://")}
    try:
        result = run_locust(
            [
                "--headless",
                "--host",
                sim.base_url,
                "--model",
                MODEL,
                "--parallel",
                "1",
                "--number",
                "2",
                "--report-dir",
                str(tmp_path / "r"),
                *SMALL,
                *(filled(arg, values) for arg in args),
            ]
        )
    finally:
        sim.stop()
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert result.returncode == 2 and len(errors) == 1 and errors[0].startswith(f"omniload: error: {flag}: "), errors
    assert "Traceback" not in result.stderr and "pw-3141" not in result.stderr
    assert sim.ground_truth_records(with_preflight=True) == []  # nothing was sent


def test_processes_below_minus_one_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--processes", "-2", "--headless"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        "omniload: error: --processes: '-2': a count of processes (1 or more), -1 (one per core) or auto"
    ]
