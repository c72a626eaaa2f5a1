from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness.devtools.simprocess import SimProcess, start_sim  # noqa: E402
from harness.load.builder import BuilderProcess  # noqa: E402

MODEL = "Qwen3-Omni-30B-A3B-Instruct"
REPO = Path(__file__).resolve().parent.parent

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
