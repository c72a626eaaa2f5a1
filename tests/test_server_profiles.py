"""The seed's sweep against vLLM and against a plain OpenAI-compatible server (the simulator's --compat openai)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import SimProcess, start_sim
from harness.jsonl import read_jsonl

from common import MODEL

SWEEP = [
    "--parallel",
    "1",
    "2",
    "--number",
    "2",
    "4",
    "--sleep-interval",
    "0",
    "--max-tokens",
    "16",
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


@pytest.fixture(scope="module")
def plain_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    truth = tmp_path_factory.mktemp("plain") / "truth.jsonl"
    sim = start_sim(
        ["--fixed", "10", "1", "--model", MODEL, "--compat", "openai", "--natural-output-tokens", "9"],
        ground_truth=str(truth),
    )
    yield sim
    sim.stop()


def test_the_sweep_works_against_a_plain_openai_server(plain_sim: SimProcess, tmp_path: Path) -> None:
    report = tmp_path / "r"
    result = run_locust(
        ["--headless", "--host", plain_sim.base_url + "/v1", "--model", MODEL, "--report-dir", str(report), *SWEEP]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((report / "summary.json").read_text())
    assert summary["server_profile"] == "openai" and summary["output_length_enforced"] is False
    assert [(s["sent"], s["succeeded"], s["streams_without_done"]) for s in summary["stages"]] == [(2, 2, 2), (4, 4, 4)]
    records = read_jsonl(str(report / "requests.jsonl"))
    # the server chose its own length (9 tokens here): the figures use what it produced
    assert {(r["completion_tokens"], r["done_marker"]) for r in records} == {(9, False)}
    assert summary["stages"][0]["completion_tokens"]["mean"] == 9
    assert "output length not enforced by this server" in result.stdout
    assert summary["tokenize_check"] == {"skipped": "/tokenize answered HTTP 404"}


def test_vllm_fields_forced_on_a_plain_server_stop_before_load(plain_sim: SimProcess, tmp_path: Path) -> None:
    seen_before = len(plain_sim.ground_truth_records(with_preflight=True))
    result = run_locust(
        [
            "--headless",
            "--host",
            plain_sim.base_url,
            "--model",
            MODEL,
            "--report-dir",
            str(tmp_path / "r"),
            "--server-profile",
            "vllm",
            *SWEEP,
        ]
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("omniload: error:")]
    assert len(errors) == 1 and errors[0].startswith("omniload: error: --server-profile: the server refused")
    assert "ignore_eos" in errors[0] and "min_tokens" in errors[0] and "--server-profile openai" in errors[0]
    assert len(plain_sim.ground_truth_records(with_preflight=True)) == seen_before + 1  # the preflight only


def test_vllm_is_detected_and_told_the_exact_length(fixed_sim: SimProcess, tmp_path: Path) -> None:
    report = tmp_path / "r"
    result = run_locust(
        ["--headless", "--host", fixed_sim.base_url, "--model", MODEL, "--report-dir", str(report), *SWEEP]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((report / "summary.json").read_text())
    assert summary["server_profile"] == "vllm" and summary["output_length_enforced"] is True
    assert {r["completion_tokens"] for r in read_jsonl(str(report / "requests.jsonl"))} == {16}


@pytest.fixture(scope="module")
def gateway_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    """vLLM behind a proxy that forwards only /v1/*: no /version, /metrics, /tokenize or /health to detect it by."""
    truth = tmp_path_factory.mktemp("gateway") / "truth.jsonl"
    sim = start_sim(
        ["--fixed", "10", "1", "--model", MODEL, "--compat", "gateway", "--natural-output-tokens", "5"],
        ground_truth=str(truth),
    )
    yield sim
    sim.stop()


@pytest.mark.parametrize("explicit", [[], ["--min-tokens", "12"]])
def test_exact_lengths_reach_vllm_behind_a_gateway(
    gateway_sim: SimProcess, tmp_path: Path, explicit: list[str]
) -> None:
    """auto sends vLLM's extensions when an exact length is asked; summary.json's config says what the bodies held."""
    report = tmp_path / "r"
    result = run_locust(
        ["--headless", "--host", gateway_sim.base_url, "--model", MODEL, "--report-dir", str(report), *SWEEP, *explicit]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((report / "summary.json").read_text())
    assert summary["server_profile"] == "vllm" and summary["output_length_enforced"] is True
    records = read_jsonl(str(report / "requests.jsonl"))
    minimum = int(explicit[1]) if explicit else 16
    assert all(minimum <= r["completion_tokens"] <= 16 for r in records) and len(records) == 6
    config = summary["config"]
    truth = {r["request_id"]: r for r in gateway_sim.ground_truth_records()}
    for record in records:
        sampling = truth[record["request_id"]]["sampling"]
        assert sampling == {
            "max_tokens": config["request_fields"]["max_tokens"],
            "stream": True,
            "min_tokens": config["request_fields"]["min_tokens"],
            "ignore_eos": config["request_fields"]["ignore_eos"],
        }
    assert (config["min_tokens"], config["ignore_eos"]) == (minimum, True)


def test_auto_drops_refused_extensions_with_a_warning_and_says_so_in_the_config(
    plain_sim: SimProcess, tmp_path: Path
) -> None:
    report = tmp_path / "r"
    result = run_locust(
        ["--headless", "--host", plain_sim.base_url, "--model", MODEL, "--report-dir", str(report), *SWEEP]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    warnings = [
        line for line in result.stderr.splitlines() if "refused min_tokens" in line or "refused ignore_eos" in line
    ]
    assert len(warnings) == 1 and "sending plain OpenAI fields" in warnings[0]
    config = json.loads((report / "summary.json").read_text())["config"]
    assert "min_tokens" not in config["request_fields"] and "ignore_eos" not in config["request_fields"]
    assert (config["min_tokens"], config["ignore_eos"]) == (0, False)


def test_explicit_extensions_are_never_dropped(plain_sim: SimProcess, tmp_path: Path) -> None:
    result = run_locust(
        [
            "--headless",
            "--host",
            plain_sim.base_url,
            "--model",
            MODEL,
            "--report-dir",
            str(tmp_path / "r"),
            "--min-tokens",
            "8",
            *SWEEP,
        ]
    )
    errors = [line for line in result.stderr.splitlines() if line.startswith("omniload: error:")]
    assert result.returncode == 2 and len(errors) == 1 and "min_tokens" in errors[0]
