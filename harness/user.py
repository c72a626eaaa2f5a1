"""The Locust user and the Locust event hooks that set up and end a run.

`locustfiles/omni_chat.py` only imports `OmniChatUser` from here; importing this module
registers omniload's flags on Locust's parser and its init/test_start/test_stop hooks.
"""

from __future__ import annotations

import logging
from typing import Any

from locust import User, constant, events, task
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from harness.client import ChatClient
from harness.options import BadOption, add_arguments, exit_bad_option, load_options
from harness.prompts import PromptLengthError
from harness.run import LoadRun

logger = logging.getLogger(__name__)

# Seconds a stopping test waits for open streams to end (Locust's own default, 0, cuts
# them off mid-stream). `--stop-timeout` overrides it.
DEFAULT_STOP_TIMEOUT_S = 120.0
FAILED_EXIT_CODE = 1


class OmniChatUser(User):
    """A closed-loop user: one streaming multimodal chat completion after another."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.run = current_run(self.environment)
        self.user_number = self.run.next_user_number()
        self.client = ChatClient(self.run.options, self.run.count_tokens)

    def on_stop(self) -> None:
        self.client.close()

    @task
    def chat(self) -> None:
        payload = self.run.take_payload()
        record = self.run.new_record(self.user_number, payload)
        try:
            self.client.send(payload, record)
        finally:
            self.run.finish(record)


def current_run(environment: Environment) -> LoadRun:
    run: LoadRun | None = getattr(environment, "omniload_run", None)
    if run is None:
        raise RuntimeError("omniload's init hook did not run (load locustfiles/omni_chat.py)")
    return run


@events.init_command_line_parser.add_listener
def _add_flags(parser: Any) -> None:
    add_arguments(parser)


@events.init.add_listener
def _on_init(environment: Environment, runner: Any = None, **_: Any) -> None:
    parsed = environment.parsed_options
    if parsed is None or isinstance(runner, WorkerRunner):
        return  # workers take the master's options with the first spawn message
    try:
        options = load_options(parsed, environment.host)
    except BadOption as error:
        exit_bad_option(error)
    if parsed.stop_timeout == 0:
        environment.stop_timeout = DEFAULT_STOP_TIMEOUT_S
    if not isinstance(runner, MasterRunner):
        environment.omniload_run = LoadRun(environment, options)  # type: ignore[attr-defined]
        if parsed.headless:
            # Before Locust starts its --run-time clock (test_start fires after it has).
            _prepare(environment.omniload_run)


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


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_: Any) -> None:
    run: LoadRun | None = getattr(environment, "omniload_run", None)
    if run is None or isinstance(environment.runner, WorkerRunner):
        return
    summary = run.summarize()
    failed = sum(stage["failed"] for stage in summary["stages"])
    environment.process_exit_code = FAILED_EXIT_CODE if failed else 0


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_: Any) -> None:
    run: LoadRun | None = getattr(environment, "omniload_run", None)
    if run is not None:
        run.close()
