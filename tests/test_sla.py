"""SLA auto-tuning: evalscope's --sla-params syntax, the double-then-bisect search, and a real search
through Locust that finds the simulator's known knee (its running slots)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.argparsing import BadOption
from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim
from harness.master.sla import SlaSearch
from harness.master.stats import StageAccumulator
from harness.options import options_from_argv
from harness.records import RequestRecord
from harness.results import StageSummary
from harness.slaspec import Criterion, SlaSpec, parse_sla_params

from common import MODEL


def test_groups_are_anded_inside_and_ored_between() -> None:
    groups = parse_sla_params('[{"avg_ttft": "<=1", "avg_tpot": "<= 0.05"}, {"p99_latency": "<5"}]')
    assert groups == (
        (Criterion("avg_ttft", "<=", 1.0), Criterion("avg_tpot", "<=", 0.05)),
        (Criterion("p99_latency", "<", 5.0),),
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("p99_latency<=2", "not JSON"),
        ("[]", "a JSON list of objects"),
        ('[{"p98_latency": "<=2"}]', "unknown metric"),
        ('[{"tps": "max"}]', "not supported"),
        ('[{"avg_ttft": "about 1"}]', "is not <=, <, >= or >"),
    ],
)
def test_bad_sla_params_name_the_flag(text: str, says: str) -> None:
    with pytest.raises(BadOption) as caught:
        parse_sla_params(text)
    assert caught.value.flag == "--sla-params" and says in str(caught.value)


def stage_at(value: float, ttft_s: float, failed: int = 0) -> StageSummary:
    """A stage summary whose every request had this TTFT (and `failed` more that failed)."""
    accumulator = StageAccumulator(int(value), 2)
    for index in range(2):
        accumulator.add(
            RequestRecord(
                f"r{index}",
                0,
                0,
                0,
                1.0 + index,
                10,
                ttft_s=ttft_s,
                latency_s=ttft_s + 1,
                duration_s=ttft_s + 1,
                completion_tokens=10,
                prompt_tokens=10,
            )
        )
    for index in range(failed):
        record = RequestRecord(f"f{index}", 0, 0, 0, 1.0, 10, duration_s=0.1)
        record.fail("http_503", "overloaded")
        accumulator.add(record)
    return accumulator.summary()


def search(spec: SlaSpec, ttft_at: object, failed_at: object = lambda value: 0) -> SlaSearch:
    """Run the search against a made-up server: TTFT as a function of the value."""
    sla = SlaSearch(spec)
    summaries: list[StageSummary] = []
    value = spec.start
    for _ in range(100):
        summaries.append(stage_at(value, ttft_at(value), failed_at(value)))  # type: ignore[operator]
        stage = sla.next_stage(summaries)
        if stage is None:
            return sla
        value = stage.rate_rps if stage.rate_rps is not None else stage.parallel
    raise AssertionError("the search did not end")


def spec(
    variable: str = "parallel",
    groups: str = '[{"p99_ttft": "<=0.1"}]',
    num_runs: int = 1,
    start: float = 1,
    upper: float = 65536,
) -> SlaSpec:
    return SlaSpec(variable, parse_sla_params(groups), start, 1, upper, num_runs, 2.0, users=4)


def test_parallel_doubles_then_bisects_to_the_knee() -> None:
    sla = search(spec(), lambda users: 0.05 if users <= 8 else 0.5)
    assert sla.results[0]["tried"] == [1, 2, 4, 8, 16, 12, 10, 9]
    assert sla.results[0]["max_satisfied"] == 8 and sla.results[0]["note"] == "satisfied"


def test_a_failed_request_fails_the_value_whatever_its_latency() -> None:
    sla = search(spec(), lambda users: 0.05, lambda users: 1 if users > 4 else 0)
    assert sla.results[0]["max_satisfied"] == 4


def test_each_value_runs_num_runs_stages_and_their_metrics_are_averaged() -> None:
    sla = search(spec(num_runs=3), lambda users: 0.05 if users <= 2 else 0.5)
    assert sla.results[0]["max_satisfied"] == 2
    assert all(point["runs"] == 3 for point in sla.points.values())


def test_a_rate_search_ends_within_its_resolution_of_the_knee() -> None:
    sla = search(spec("rate", start=2), lambda rate: 0.05 if rate <= 13.3 else 0.5)
    best = sla.results[0]["max_satisfied"]
    assert best is not None and 13.3 * 0.9 <= best <= 13.3


def test_bounds_end_the_search_either_way() -> None:
    assert search(spec(upper=16), lambda users: 0.05).results[0]["note"] == "upper bound reached"
    never = search(spec(start=4), lambda users: 0.5).results[0]
    assert never["max_satisfied"] is None and never["tried"] == [4, 2, 1]


def test_every_group_gets_its_answer_and_measured_values_are_reused() -> None:
    sla = search(
        spec(groups='[{"p99_ttft": "<=0.1"}, {"p99_ttft": "<=1"}]'),
        lambda users: 0.05 if users <= 8 else (0.5 if users <= 32 else 5),
    )
    assert [result["max_satisfied"] for result in sla.results] == [8, 32]
    assert len(sla.points) == len({*sla.results[0]["tried"], *sla.results[1]["tried"]})  # none measured twice


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--sla-auto-tune"], "--sla-params"),
        (["--sla-auto-tune", "--sla-params", '[{"rps": ">=1"}]', "--sla-variable", "rate"], "--parallel"),
        (
            ["--sla-auto-tune", "--sla-params", '[{"rps": ">=1"}]', "--parallel", "100", "--sla-upper-bound", "64"],
            "--parallel",
        ),
        (
            ["--sla-auto-tune", "--sla-params", '[{"rps": ">=1"}]', "--sla-lower-bound", "8", "--sla-upper-bound", "4"],
            "--sla-upper-bound",
        ),
    ],
)
def test_bad_sla_flags_are_refused_with_their_name(argv: list[str], flag: str) -> None:
    with pytest.raises(BadOption) as caught:
        options_from_argv(["--model", MODEL, *argv], "http://127.0.0.1:9")
    assert caught.value.flag == flag


def test_a_real_search_finds_the_simulators_running_slots(tmp_path: Path) -> None:
    """4 running slots: a 5th request in flight waits a whole request (32 tokens x 10 ms) for one, and its TTFT
    shows it; at 4 or fewer TTFT is a prefill (tens of ms), so the bound 0.2 s has margin either side."""
    sim = start_sim(["--model", MODEL, "--max-num-seqs", "4", "--decode-ms", "10", "--decode-ms-per-seq", "0"])
    report = tmp_path / "r"
    try:
        result = run_locust(
            [
                "--headless",
                "--host",
                sim.base_url,
                "--model",
                MODEL,
                "--report-dir",
                str(report),
                "--sla-auto-tune",
                "--sla-params",
                '[{"p99_ttft": "<=0.2"}]',
                "--sla-num-runs",
                "1",
                "--sla-upper-bound",
                "16",
                "--sleep-interval",
                "0.2",
                "--max-tokens",
                "32",
                "--min-prompt-length",
                "128",
                "--max-prompt-length",
                "128",
                "--image-width",
                "64",
                "--image-height",
                "64",
                "--metrics-port",
                "0",
            ]
        )
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    sla = json.loads((report / "sla_summary.json").read_text())
    print(sla["results"])
    assert sla["results"][0]["max_satisfied"] == 4 and sla["results"][0]["tried"] == [1, 2, 4, 8, 6, 5]
    summary = json.loads((report / "summary.json").read_text())
    assert [stage["parallel"] for stage in summary["stages"]] == [1, 2, 4, 8, 6, 5]
    assert summary["sla"] == sla["results"] and "SLA search" in result.stdout
