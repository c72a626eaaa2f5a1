"""The Locust user and the Locust event hooks that set up and end a run.

`locustfiles/omni_chat.py` imports `OmniChatUser` and `SweepShape` from here; importing
this module registers omniload's flags on Locust's parser and its hooks:

- init, on the master or single process: validate the flags (exit 2 on bad input),
  start the coordinator; a single headless process also builds its payloads here,
  before Locust's clocks start. Workers only shorten their wait for a lost master.
- test_start, on each load-generating process: build its payloads (a worker takes the
  master's options, which arrive with the first spawn message).
- test_stop, on the master or single process: the reports, and the exit code.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import locust.runners
from locust import User, constant, events, task
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner, WorkerRunner
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_WAITING

from harness.client import ChatClient
from harness.coordinator import Coordinator
from harness.omnibench.runner import run_after_load
from harness.options import BadOption, add_arguments, exit_bad_option, load_options
from harness.prompts import PromptLengthError
from harness.run import LoadRun
from harness.shape import SweepShape
from harness.webui import add_stages_tab

logger = logging.getLogger(__name__)

# Seconds a stopping test waits for open streams to end (Locust's own default, 0, cuts
# them off mid-stream). `--stop-timeout` overrides it.
DEFAULT_STOP_TIMEOUT_S = 120.0
# A worker that hears nothing from its master for this long stops (Locust waits 60 s).
MASTER_LOST_TIMEOUT_S = 10
FAILED_EXIT_CODE = 1

__all__ = ["OmniChatUser", "SweepShape"]


class OmniChatUser(User):
    """A closed-loop user: one streaming multimodal chat completion after another.

    In a sweep, each request waits for a permit from the master, so a stage sends
    exactly its number of requests with exactly its users.
    """

    wait_time = constant(0)

    def on_start(self) -> None:
        self.run = current_run(self.environment)
        self.user_number = self.run.next_user_number()
        self.client = ChatClient(self.run.options, self.run.count_tokens)

    def on_stop(self) -> None:
        self.client.close()

    @task
    def chat(self) -> None:
        # Waiting for a permit is waiting, not work: a stopping test ends the user at once.
        self._state = LOCUST_STATE_WAITING
        permit = self.run.acquire_permit()
        self._state = LOCUST_STATE_RUNNING
        payload = self.run.take_payload()
        record = self.run.new_record(self.user_number, payload, permit)
        try:
            self.client.send(payload, record)
        finally:
            self.run.finish(record, permit)


def current_run(environment: Environment) -> LoadRun:
    run: LoadRun | None = getattr(environment, "omniload_run", None)
    if run is None:
        raise RuntimeError("omniload's hooks did not run (load locustfiles/omni_chat.py)")
    return run


@events.init_command_line_parser.add_listener
def _add_flags(parser: Any) -> None:
    add_arguments(parser)


@events.init.add_listener
def _on_init(environment: Environment, runner: Any = None, web_ui: Any = None, **_: Any) -> None:
    parsed = environment.parsed_options
    if parsed is None:
        return
    if isinstance(runner, WorkerRunner):
        locust.runners.MASTER_HEARTBEAT_TIMEOUT = MASTER_LOST_TIMEOUT_S
        return
    try:
        options = load_options(parsed, environment.host)
    except BadOption as error:
        exit_bad_option(error)
    parsed.report_dir = options.report_dir  # workers get the master's options: the same directory
    if parsed.stop_timeout == 0:
        environment.stop_timeout = DEFAULT_STOP_TIMEOUT_S
    if options.stages and isinstance(runner, MasterRunner):
        parsed.enable_rebalancing = True  # a lost worker's users move to the others at once
    coordinator = environment.omniload_coordinator = Coordinator(environment, options)  # type: ignore[attr-defined]
    if options.metrics_port:
        try:
            coordinator.metrics.serve(options.metrics_host, options.metrics_port)
        except OSError as error:
            exit_bad_option(BadOption("--metrics-port", f"cannot serve on {options.metrics_host}:"
                                      f"{options.metrics_port}: {error.strerror}"))  # fmt: skip
    if web_ui is not None:
        add_stages_tab(web_ui, coordinator)
    if isinstance(runner, LocalRunner):
        environment.omniload_run = LoadRun(environment, options)  # type: ignore[attr-defined]
        if parsed.headless:
            _prepare(environment.omniload_run)  # before Locust's --run-time clock starts


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner) or environment.parsed_options is None:
        return
    if isinstance(runner, WorkerRunner) and getattr(environment, "omniload_run", None) is None:
        try:
            options = load_options(environment.parsed_options, environment.host)
        except BadOption as error:
            exit_bad_option(error)
        environment.omniload_run = LoadRun(environment, options, runner.worker_index)  # type: ignore[attr-defined]
    run = current_run(environment)
    if run.pool is None:
        _prepare(run)


def _prepare(run: LoadRun) -> None:
    try:
        run.prepare()
    except PromptLengthError as error:
        exit_bad_option(BadOption("--min-prompt-length", str(error)))
    except OSError as error:
        exit_bad_option(BadOption("--tokenizer-path", f"cannot load a tokenizer: {error}"))


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
    coordinator: Coordinator | None = getattr(environment, "omniload_coordinator", None)
    if coordinator is None:
        return
    try:
        _finish_run(environment, coordinator)
    except Exception:  # never a silent success: a report that failed fails the run
        logger.exception("omniload: writing the reports failed")
        environment.process_exit_code = FAILED_EXIT_CODE


def _finish_run(environment: Environment, coordinator: Coordinator) -> None:
    run: LoadRun | None = getattr(environment, "omniload_run", None)
    summary = coordinator.finish(run)
    failed = sum(stage["failed"] for stage in summary["stages"])
    if coordinator.options.omnibench is not None:
        omnibench = run_after_load(coordinator.options)
        coordinator.add_to_summary(summary, "omnibench", omnibench)
        failed += omnibench.get("failed", 0) if "error" not in omnibench else 1
    environment.process_exit_code = FAILED_EXIT_CODE if failed else 0
    if coordinator.options.metrics_port and coordinator.options.metrics_linger_s:
        coordinator.metrics.linger(coordinator.options.metrics_linger_s)


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_: Any) -> None:
    for part in (getattr(environment, "omniload_run", None), getattr(environment, "omniload_coordinator", None)):
        if part is not None:
            part.close()
