from __future__ import annotations

import inspect
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness.devtools.simprocess import SimProcess, start_sim  # noqa: E402
from harness.load.builder import BuilderProcess  # noqa: E402

from common import MODEL  # noqa: E402

# Locust processes started by tests serve no live metrics unless a test asks (with
# --metrics-port on a free port): the default port 9646 would collide between runs.
os.environ.setdefault("LOCUST_METRICS_PORT", "0")


@pytest.fixture(scope="module")
def fixed_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    """A simulator with constant timing (TTFT 30 ms, ITL 5 ms) and a ground-truth file."""
    ground_truth = tmp_path_factory.mktemp("sim") / "ground_truth.jsonl"
    sim = start_sim(["--fixed", "30", "5", "--model", MODEL], ground_truth=str(ground_truth))
    yield sim
    sim.stop()


@pytest.fixture
def builder() -> Iterator[BuilderProcess]:
    """A payload builder child process, ended after the test."""
    process = BuilderProcess()
    yield process
    process.close()


# `make test-fast` (pytest -m "not slow") leaves out every test that starts a process: a
# simulator, Locust, Prometheus, Chromium, a builder child or any subprocess. Marked here
# from what each test calls and the fixtures it takes, so a new test is marked by itself.
_STARTS_A_PROCESS = re.compile(
    r"\b(start_sim|run_locust|locust_command|subprocess\.|Popen|browser_page|BuilderProcess|start_prometheus|"
    r"omnibench\(|omniload\(|\b_run\(|push\(|run_herd|run_sweep|start_workers)"
)
_PROCESS_FIXTURES = frozenset(
    {
        "fixed_sim",
        "sim",
        "keyed_sim",
        "plain_sim",
        "gateway_sim",
        "answering_sim",
        "runs",
        "app",
        "hostile_run",
        "builder",
        "prometheus",
        "cluster_run",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        function = getattr(item, "function", None)
        source = inspect.getsource(function) if function is not None else ""
        if _STARTS_A_PROCESS.search(source) or _PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
