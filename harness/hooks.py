"""The Locust event hooks that set up, connect and end the two sides of a run.

Importing this module (every omniload locustfile does) registers omniload's flags on
Locust's parser and these hooks:

- init, on the master or single process: validate the flags (exit 2 on bad input),
  start the Master (harness/master/); a single process also creates its
  LoadGenerator (harness/load/), and a headless one builds its payloads here, before
  Locust's clocks start. Workers only shorten their wait for a lost master.
- test_start, on each load-generating process: build its payloads (a worker takes the
  master's options, which arrive with the first spawn message).
- test_stop: each load generator tells the master what it used (DONE); then the
  master writes the reports, runs the OmniBench pass if asked, and sets the exit code.
"""

from __future__ import annotations

import gevent
import locust.runners
from locust import events
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

import dataclasses
import logging
import os
import signal
import socket
import sys
import tempfile
import time
from typing import Any, NoReturn

from harness import wire
from harness.argparsing import BAD_INPUT_EXIT_CODE, BadOption, exit_bad_option
from harness.dataset import read_dataset
from harness.endpoint import is_loopback
from harness.load.generator import GENERATORS, LoadGenerator
from harness.load.preflight import (
    DETECT_TIMEOUT_S,
    PREFLIGHT_TIMEOUT_S,
    ExtensionsRefused,
    bounds_for,
    check_lengths_fit,
    check_reachable,
    check_request_shape,
    detect_server_profile,
)
from harness.load.prompts import PromptLengthError
from harness.load.readiness import wait_for_server
from harness.master.master import MASTERS, Master
from harness.master.server_scrape import SCRAPERS, ServerScraper
from harness.mediafiles import MediaError, read_audio_dir, read_image_dir, read_video_dir
from harness.omnibench.dataset import DatasetError, load_samples
from harness.omnibench.runner import check_media, run_after_load
from harness.options import (
    DEFAULT_STOP_TIMEOUT_S,
    SECRET_FLAGS,
    LoadOptions,
    PayloadSpec,
    add_arguments,
    flag_dests,
    load_options,
)
from harness.progress import ProgressLine
from harness.replay import replay_bodies, replay_stages
from harness.report.html import write_report
from harness.report.runend import print_stage, write_run
from harness.report.summary import write_summary
from harness.report.webui import add_stages_tab, guard_start_form

logger = logging.getLogger(__name__)

# Seconds a worker that refuses the input waits for its REJECTED message to leave.
REJECTED_FLUSH_S = 0.5
# A worker that hears nothing from its master for this long stops (Locust waits 60 s).
MASTER_LOST_TIMEOUT_S = 10
FAILED_EXIT_CODE = 1
EARLY_STOP_EXIT_CODE = 3  # a guard (--max-error-rate) ended the sweep before its plan
PROGRESS_TICK_S = 0.5
RUNNER_WAIT_S = 10.0  # a late worker's test_start waits this long for its runner to be assigned
RUNNER_POLL_S = 0.01
# Where the web UI and the master's worker port listen unless --web-host/--master-bind-host
# say otherwise (Locust's defaults are every interface; neither has a login).
LOOPBACK = "127.0.0.1"


@events.init_command_line_parser.add_listener
def _add_flags(parser: Any) -> None:
    add_arguments(parser)
    # Headless runs print omniload's stage tables and progress; Locust's table every 2 s only
    # when asked (--print-stats).
    parser.set_defaults(web_host=LOOPBACK, master_bind_host=LOOPBACK, only_summary=True)


@events.init.add_listener
def _on_init(environment: Environment, runner: Any = None, web_ui: Any = None, **_: Any) -> None:
    parsed = environment.parsed_options
    if parsed is None:
        return
    if isinstance(runner, WorkerRunner):
        locust.runners.MASTER_HEARTBEAT_TIMEOUT = MASTER_LOST_TIMEOUT_S
        return
    if parsed.print_stats:  # asked for Locust's periodic table (quiet is omniload's default)
        parsed.only_summary = False
    try:
        options = check_before_load(load_options(parsed, environment.host), parsed)
    except BadOption as error:
        exit_bad_option(error)
    parsed.report_dir = options.report_dir  # workers get the master's options: the same directory
    if parsed.stop_timeout == 0:
        environment.stop_timeout = DEFAULT_STOP_TIMEOUT_S
    if options.sweep.stages and isinstance(runner, MasterRunner):
        parsed.enable_rebalancing = True  # a lost worker's users move to the others at once
    master = MASTERS.set(environment, Master(environment, options, on_stage_end=print_stage))
    if options.metrics.port:
        try:
            master.metrics.serve(options.metrics.host, options.metrics.port)
        except OSError as error:
            exit_bad_option(
                BadOption(
                    "--metrics-port", f"cannot serve on {options.metrics.host}:{options.metrics.port}: {error.strerror}"
                )
            )
    if web_ui is not None:
        add_stages_tab(
            web_ui,
            master.live_summaries,
            bool(options.goodput_slos),
            options.percentiles,
            options.payload.speech.enabled,
        )
        guard_start_form(web_ui, flag_dests(), SECRET_FLAGS)
        if parsed.web_host in ("", "*") or not is_loopback(parsed.web_host):
            logger.warning(
                "omniload: the web UI listens on %s without a login: anyone who can reach it can start and stop runs",
                parsed.web_host or "every interface",
            )
    if isinstance(runner, MasterRunner):
        _keep_secrets_home(runner)
        bind = parsed.master_bind_host
        if bind in ("", "*") or not is_loopback(bind):
            logger.info(
                "omniload: the master takes workers on %s:%d (secrets are not sent to them: each worker "
                "reads --api-key or $OPENAI_API_KEY itself)",
                bind,
                parsed.master_bind_port,
            )
        else:
            logger.info(
                "omniload: the master takes workers on %s:%d only (this machine); workers elsewhere "
                "need --master-bind-host 0.0.0.0",
                bind,
                parsed.master_bind_port,
            )
    _stop_gracefully_on_signals(environment, master)
    if options.scrape_server_metrics:  # vLLM's /metrics: the report shows the server's side
        scraper = SCRAPERS.set(environment, ServerScraper(options.endpoint, options.report_dir))
        scraper.start()
    if parsed.headless:
        gevent.spawn(_show_progress, master)
    if isinstance(runner, LocalRunner):
        generator = GENERATORS.set(environment, LoadGenerator(environment, options))
        if parsed.headless:
            _prepare(generator)  # before Locust's --run-time clock starts


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if runner is None and environment.parsed_options is not None and environment.parsed_options.worker:
        runner = _runner_once_set(environment)
    if isinstance(runner, MasterRunner) or environment.parsed_options is None:
        return
    if isinstance(runner, WorkerRunner) and GENERATORS.get(environment) is None:
        try:
            options = load_options(environment.parsed_options, environment.host)
        except BadOption as error:
            _reject(environment, error)
        GENERATORS.set(environment, LoadGenerator(environment, options, runner.worker_index))
    generator = GENERATORS.get(environment)
    if generator is None:
        return
    if generator.pool is None:
        _prepare(generator)
    generator.start_probes()


def _runner_once_set(environment: Environment) -> Any:
    """The worker's runner, waited for: a worker that joins a run already going gets its first
    spawn message while Locust is still constructing its WorkerRunner (the constructor yields
    on its first send), so test_start fires before `environment.runner` is assigned."""
    deadline_s = time.monotonic() + RUNNER_WAIT_S
    while environment.runner is None and time.monotonic() < deadline_s:
        gevent.sleep(RUNNER_POLL_S)
    return environment.runner


def _keep_secrets_home(runner: MasterRunner) -> None:
    """The options the master sends workers (with every spawn message) without secret flags.

    Anything that joins the master port receives them; a worker reads its key from its
    own --api-key or $OPENAI_API_KEY (kept, since the master's value no longer overwrites it).
    """
    send = runner.server.send_to_client

    def send_without_secrets(message: Any) -> None:
        data = message.data
        if isinstance(data, dict) and isinstance(data.get("parsed_options"), dict):
            kept = {key: value for key, value in data["parsed_options"].items() if key not in SECRET_FLAGS}
            message.data = {**data, "parsed_options": kept}
        send(message)

    runner.server.send_to_client = send_without_secrets


def _show_progress(master: Master) -> None:
    """Headless runs: a progress line about once a second on a terminal, every 10 s in a log."""
    line = ProgressLine()
    while master.stop_reason is None and not master.finished:
        master.show_progress(line)
        gevent.sleep(PROGRESS_TICK_S)
    line.end()


def check_before_load(options: LoadOptions, parsed: Any) -> LoadOptions:
    """What can be refused before any load, on the master or single process (BadOption naming the flag).

    Returns the options with the server profile resolved (it is written back into the
    parsed options, which workers receive with every spawn message).
    """
    if not options.sweep.stages:
        if parsed.num_users is not None and parsed.num_users < 1:
            raise BadOption("-u", f"{parsed.num_users} users: at least 1 (or use --parallel)")
        if parsed.spawn_rate is not None and not parsed.spawn_rate > 0:
            raise BadOption("-r", f"{parsed.spawn_rate} users per second: more than 0")
    check_report_dir(options.report_dir)
    check_media_dirs(options.payload)
    if options.metrics.port:
        check_can_listen(options.metrics.host, options.metrics.port)
    if options.connection.wait_for_server_s:
        wait_for_server(options.endpoint, options.connection.wait_for_server_s)
    check_reachable(options.endpoint, options.connection.connect_timeout_s)
    detect_bounds = bounds_for(options.connection, DETECT_TIMEOUT_S)
    kind, why = detect_server_profile(options.endpoint, detect_bounds)
    auto = parsed.server_profile == "auto"
    if auto:  # by behaviour: vLLM's extensions when an exact length is asked, dropped only if refused
        parsed.server_profile = "vllm" if options.payload.min_tokens or options.payload.ignore_eos else "openai"
        logger.info(
            "omniload: server profile %s (%s; %s)",
            parsed.server_profile,
            why,
            "exact output length asked" if parsed.server_profile == "vllm" else "no minimum output asked",
        )
        options = load_options(parsed, options.endpoint.base_url)
    check_lengths_fit(options.endpoint, options.payload, detect_bounds)
    if options.omnibench is not None:
        try:
            check_media(
                load_samples(options.omnibench.dataset, options.omnibench.limit),
                options.omnibench.use_image,
                options.omnibench.use_audio,
            )
        except DatasetError as error:
            raise BadOption("--omnibench-dataset", str(error)) from None
    preflight_bounds = bounds_for(options.connection, PREFLIGHT_TIMEOUT_S)
    try:
        check_request_shape(options.endpoint, options.payload, preflight_bounds)
    except ExtensionsRefused as refusal:
        if not auto or options.payload.explicit_extensions:
            raise  # set by flag: never dropped silently
        logger.warning(
            "omniload: the server refused %s: sending plain OpenAI fields (output lengths are not "
            "enforced); --server-profile openai says so up front",
            ", ".join(refusal.fields),
        )
        parsed.server_profile = "openai"
        options = load_options(parsed, options.endpoint.base_url)
        check_request_shape(options.endpoint, options.payload, preflight_bounds)
    return dataclasses.replace(options, scrape_server_metrics=kind == "vllm")


def check_media_dirs(payload: PayloadSpec) -> None:
    """--image-dir/--audio-dir/--video-dir: every file read and decoded once before load (BadOption naming it)."""
    try:
        if payload.image_dir:
            read_image_dir(payload.image_dir)
        if payload.audio_dir:
            read_audio_dir(payload.audio_dir)
        if payload.video.num and payload.video.directory:
            read_video_dir(payload.video.directory, payload.video.audio is not None)
        if payload.dataset:
            check_dataset(payload.dataset, payload.tokenizer_path)
        if payload.replay:
            replay_bodies(payload.replay, replay_stages(payload.replay))  # every body kept (BadOption if not)
    except MediaError as error:
        raise BadOption(error.flag, str(error)) from None


def check_dataset(path: str, tokenizer_path: str | None) -> None:
    """--dataset read and every row checked before load: none to send is one line and exit 2; bad rows are
    named on the console (and counted in summary.json) and left out."""
    try:
        dataset = read_dataset(path, tokenizer_path)
    except (OSError, ValueError) as exc:
        raise BadOption("--dataset", f"cannot be read: {exc}".split("\n")[0]) from None
    if not dataset.rows:
        raise BadOption("--dataset", f"{path}: no row can be sent: {dataset.bad_line()}")
    if dataset.bad:
        logger.warning("omniload: --dataset %s: %s", path, dataset.bad_line())


def check_report_dir(directory: str) -> None:
    """--report-dir can be created and written (BadOption before any request, not a traceback after load)."""
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise BadOption(
            "--report-dir", f"cannot write into {directory} ({error.strerror or type(error).__name__})"
        ) from None


def check_can_listen(host: str, port: int) -> None:
    """--metrics-host/--metrics-port can be listened on (tried and released before any request)."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except (OSError, OverflowError) as error:
        flag = (
            "--metrics-host"
            if isinstance(error, socket.gaierror) or getattr(error, "errno", None) == 99
            else "--metrics-port"
        )
        raise BadOption(flag, f"cannot listen on {host}:{port} ({getattr(error, 'strerror', None) or error})") from None


def _prepare(generator: LoadGenerator) -> None:
    try:
        generator.prepare()
    except MediaError as error:  # a worker that cannot read the media directory it was given
        _reject(generator.environment, BadOption(error.flag, str(error)))
    except PromptLengthError as error:
        _reject(generator.environment, BadOption("--min-prompt-length", str(error)))
    except OSError as error:
        _reject(generator.environment, BadOption("--tokenizer-path", f"cannot load a tokenizer: {error}"))


def _reject(environment: Environment, error: BadOption) -> NoReturn:
    """Bad input found by a load generator: a worker tells its master first, then every process exits 2."""
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        rejected: wire.RejectedMessage = {"worker": runner.worker_index, "error": str(error)}
        runner.send_message(wire.REJECTED, dict(rejected))
        gevent.sleep(REJECTED_FLUSH_S)  # let the message leave before the process does
    exit_bad_option(error)


@events.test_stopping.add_listener
def _on_test_stopping(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner) and runner.last_heartbeat_timestamp is not None:
        if time.time() - runner.last_heartbeat_timestamp > MASTER_LOST_TIMEOUT_S:
            # The master is gone and nobody would take these records: end the open
            # requests now (kept in this worker's JSONL as "cancelled").
            environment.stop_timeout = 0


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_: Any) -> None:
    generator = GENERATORS.get(environment)
    if generator is not None:
        generator.report_done()  # before the master's end below, when both are this process
    if isinstance(environment.runner, WorkerRunner):
        # The users have stopped. Locust's worker then sleeps stop_timeout again before saying
        # it is ready, deaf to the master's quit: it would wait out the lost-master timeout
        # and log an ERROR after a normal run. The next spawn message sets it again.
        environment.stop_timeout = 0
    scraper = SCRAPERS.get(environment)
    if scraper is not None:
        scraper.stop()
    master = MASTERS.get(environment)
    if master is None:
        return
    try:
        _finish_run(master)
    except Exception:  # never a silent success: a report that failed fails the run
        logger.exception("omniload: writing the reports failed")
        environment.process_exit_code = FAILED_EXIT_CODE


def _stop_gracefully_on_signals(environment: Environment, master: Master) -> None:
    """SIGTERM (timeout, docker stop, Kubernetes) and SIGINT (Ctrl+C) on the master or single
    process: stop sending, let open requests finish within --stop-timeout, write every report.

    Installed at init, before Locust's headless run starts (Locust installs its own SIGTERM
    handler only after a shape run has returned, so SIGTERM would kill the process). A
    second signal ends the open requests at once (kept as `cancelled`).
    """

    def on_signal(signal_name: str) -> None:
        if master.stop_reason is None:
            master.request_stop(signal_name)
            return
        logger.warning("omniload: %s again: ending the open requests now", signal_name)
        runner = environment.runner
        if runner is not None:
            runner.user_greenlets.kill(block=False)

    for number in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(number, on_signal, signal.Signals(number).name)


def _finish_run(master: Master) -> None:
    """The master's summary, written and said by the report side; the OmniBench pass; report.html; the exit code."""
    options = master.options
    summary = master.finish()
    write_run(options.report_dir, summary, master.writer.path, master.sla_document())
    if master.rejected is not None:  # a worker refused the input: no load was measured
        sys.stderr.write(f"omniload: error: {master.rejected}\n")
        master.environment.process_exit_code = BAD_INPUT_EXIT_CODE
        return
    failed = sum(stage["failed"] for stage in summary["stages"])
    if not summary["completed"]:
        failed += 1  # a stage that did not run its whole budget is never a success
    if options.omnibench is not None:
        omnibench = run_after_load(options.endpoint, options.report_dir, options.omnibench)
        summary["omnibench"] = omnibench
        write_summary(options.report_dir, summary)
        failed += omnibench.get("failed", 0) if "error" not in omnibench else 1
    report = write_report(options.report_dir, embed_media=options.embed_samples)
    print(
        f"report: {report}   (open it in a browser, or: omniload app "
        f"{os.path.dirname(os.path.dirname(report)) or '.'})",
        flush=True,
    )
    master.environment.process_exit_code = FAILED_EXIT_CODE if failed else 0
    if master.early_stop is not None:
        master.environment.process_exit_code = EARLY_STOP_EXIT_CODE
        print(f"omniload: stopped early: {master.stop_reason} (exit code {EARLY_STOP_EXIT_CODE})", flush=True)
    if options.metrics.port and options.metrics.linger_s:
        master.metrics.linger(options.metrics.linger_s)


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_: Any) -> None:
    master = MASTERS.get(environment)
    if master is not None and environment.runner is not None and master.finished:
        line = master.locust_count_line(environment.runner.stats.total.num_requests)
        if line is not None:
            print(line, flush=True)  # just above Locust's final table
    for part in (GENERATORS.get(environment), MASTERS.get(environment)):
        if part is not None:
            part.close()
