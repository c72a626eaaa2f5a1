"""Numbers to bet on: interval coverage against a simulator of known spread, comparisons that decide, early
stops."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim
from harness.master.stats import distribution, percentile
from harness.records import read_records

from common import MODEL, TEXT_ONLY, headless, omniload

STAGES, PER_STAGE = 50, 100
QUICK = [*TEXT_ONLY[:-1], "2"]  # short text requests, 2 output tokens


def _run(tmp_path: Path, name: str, sim_args: list[str], *flags: str) -> Path:
    sim = start_sim(["--model", MODEL, *sim_args])
    try:
        result = run_locust(headless(sim.base_url, tmp_path / name, *QUICK, *flags))
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    return tmp_path / name


def test_stage_intervals_cover_the_long_run_percentiles(tmp_path: Path) -> None:
    """5,000 requests against --fixed 20 ms + uniform [0, 40) ms, cut into 50 runs of 100 in send order, each
    summarized as a stage is (master/stats.py distribution): the 95 % intervals for p50 and p90 TTFT hold the
    long-run value (all 5,000 pooled) in 90 to 99 of the 100. (bench/interval_coverage.py runs 50 real stages:
    a stage boundary costs the sweep about a second, too long for CI.)"""
    report = _run(
        tmp_path,
        "r",
        ["--fixed", "20", "1", "--jitter-ms", "40", "--seed", "5"],
        "--parallel",
        "50",
        "--number",
        str(STAGES * PER_STAGE),
    )
    records = sorted(read_records(str(report / "requests.jsonl")), key=lambda r: r.t_send)
    ttfts = [r.ttft_s for r in records if r.ttft_s is not None]
    assert len(ttfts) == STAGES * PER_STAGE
    pooled = sorted(ttfts)
    covered = 0
    for p in (50, 90):
        long_run = percentile(pooled, p)
        for block in range(STAGES):
            low, high = distribution(ttfts[block * PER_STAGE : (block + 1) * PER_STAGE])["ci"][f"p{p}"]
            covered += low is not None and high is not None and low <= long_run <= high
    print(f"95 % intervals holding the long-run p50/p90 TTFT: {covered} of {2 * STAGES}")
    assert 90 <= covered <= 99


def test_comparisons_decide_same_and_ten_percent_slower(tmp_path: Path) -> None:
    flags = ["--parallel", "10", "--number", "300"]
    base = _run(tmp_path, "a", ["--fixed", "20", "1", "--jitter-ms", "40", "--seed", "1"], *flags)
    again = _run(tmp_path, "b", ["--fixed", "20", "1", "--jitter-ms", "40", "--seed", "2"], *flags)
    slower = _run(tmp_path, "c", ["--fixed", "22", "1.1", "--jitter-ms", "44", "--seed", "3"], *flags)
    said = omniload("report", str(base), str(again), str(slower), "--out", str(tmp_path / "cmp.html"))
    assert said.returncode == 0, said.stderr
    verdicts = json.loads((tmp_path / "cmp.json").read_text())["verdicts"]
    same = {v["metric"]: v for v in verdicts["b"][0]}
    ten = {v["metric"]: v for v in verdicts["c"][0]}
    for metric in ("TTFT p50", "TTFT p90"):
        assert same[metric]["verdict"] == "no detectable difference", same[metric]
        assert ten[metric]["verdict"] == "slower" and ten[metric]["ci"][0] <= 1.10 <= ten[metric]["ci"][1], ten[metric]
    assert "TTFT p50 ×" in said.stdout and "slower" in said.stdout
    from harness.devtools.browser import browser_page

    with browser_page() as (page, log):
        page.goto((tmp_path / "cmp.html").as_uri())
        assert page.locator('#verdicts td[data-verdict="slower"]').count() >= 2
        assert not log.console_errors


def test_max_error_rate_ends_the_first_stage_early(tmp_path: Path) -> None:
    sim = start_sim(["--model", MODEL, "--fixed", "5", "1", "--fault-rate", "0.5", "--faults", "http_500"])
    try:
        result = run_locust(
            headless(
                sim.base_url,
                tmp_path / "r",
                *QUICK,
                "--parallel",
                "4",
                "4",
                "--number",
                "400",
                "400",
                "--max-error-rate",
                "0.2",
            )
        )
    finally:
        sim.stop()
    assert result.returncode == 3, result.stderr[-2000:]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["stopped_early"] == "max_error_rate" and "--max-error-rate 0.2" in summary["stopped_by"]
    assert len(summary["stages"]) == 1 and summary["stages"][0]["sent"] < 100 and summary["completed"] is False
    assert "stopped early: --max-error-rate 0.2" in result.stdout


def test_the_report_shows_intervals_and_slices(tmp_path: Path) -> None:
    report = _run(
        tmp_path,
        "r",
        ["--fixed", "20", "1", "--jitter-ms", "20"],
        "--parallel",
        "4",
        "8",
        "--number",
        "60",
        "120",
        "--slice",
        "0.1",  # each stage lasts 0.3 s or more: several windows
        "--percentiles",
        "50",
        "75",
        "90",
    )
    summary = json.loads((report / "summary.json").read_text())
    for stage in summary["stages"]:
        slices = stage["slices"]
        assert len(slices) >= 2 and sum(window["ended"] for window in slices) == stage["sent"]
        assert [window["start_s"] for window in slices] == [k * 0.1 for k in range(len(slices))]
    header = (report / "stages.csv").read_text().splitlines()[0].split(",")
    assert {"p50_ttft_s_low", "p50_ttft_s_high", "rps_low", "success_rate_high"} <= set(header)
    assert {"p75_ttft_s", "p75_ttft_s_high", "p75_tpot_s", "std_latency_s"} <= set(header)  # --percentiles' set
    assert "p99_ttft_s" not in header and summary["stages"][0]["ttft_s"]["p75"] is not None
    from harness.devtools.browser import browser_page

    with browser_page() as (page, log):
        page.goto((report / "report.html").as_uri())
        cells = page.locator("#stages tbody tr").first.inner_text()
        assert "±" in cells  # p50/p90 TTFT with their intervals
        titles = page.locator("#stages thead").inner_text()
        assert "P75 TTFT(ms)" in titles and "P99 TTFT(ms)" not in titles
        ttft = page.locator("figure.chart", has_text="TTFT").first
        assert ttft.locator("line.error-bar").count() >= 6  # p50, p75 and p90 of both stages
        windows = page.locator("#slices figure.chart", has_text="Successes and errors")
        assert windows.locator(".mark").count() >= 2 * sum(len(s["slices"]) for s in summary["stages"])
        assert not log.console_errors


def test_a_saturated_sweep_stops_after_two_stages_without_throughput(tmp_path: Path) -> None:
    """Two running slots: past concurrency 2 requests only queue (RPS flat, latency doubling)."""
    sim = start_sim(["--model", MODEL, "--max-num-seqs", "2"])
    try:
        result = run_locust(
            headless(
                sim.base_url,
                tmp_path / "r",
                *TEXT_ONLY[:-1],
                "8",
                "--parallel",
                "1",
                "2",
                "4",
                "8",
                "16",
                "--number",
                "8",
                "16",
                "16",
                "24",
                "32",
                "--stop-when-saturated",
            )
        )
    finally:
        sim.stop()
    assert result.returncode == 3, result.stderr[-2000:]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert [stage["parallel"] for stage in summary["stages"]] == [1, 2, 4, 8]  # 16 never ran
    assert summary["stopped_early"] == "saturated" and "two stages in a row" in summary["stopped_by"]


def test_num_runs_repeats_each_stage_and_gives_the_spread_between_runs(tmp_path: Path) -> None:
    sim = start_sim(["--model", MODEL, "--fixed", "20", "1", "--jitter-ms", "20"])
    try:
        result = run_locust(
            headless(
                sim.base_url, tmp_path / "r", *QUICK, "--parallel", "2", "4", "--number", "10", "20", "--num-runs", "3"
            )
        )
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert [stage["parallel"] for stage in summary["stages"]] == [2, 2, 2, 4, 4, 4]  # fresh payloads each run
    repeated = summary["repeated"]
    assert [(r["parallel"], r["sent"], r["runs"]) for r in repeated] == [(2, 30, [1, 2, 3]), (4, 60, [4, 5, 6])]
    between = repeated[1]["between_runs"]["ttft_p50_s"]
    assert len(between["values"]) == 3 and between["min"] <= between["mean"] <= between["max"]
    assert "between its 3 runs" in result.stdout
    records = read_records(str(tmp_path / "r" / "requests.jsonl"))
    assert len({r.request_id for r in records}) == 90
    # a comparison of two repeated runs: one verdict row per planned stage, bootstrapped over runs
    shutil.copytree(tmp_path / "r", tmp_path / "again")
    said = omniload("report", str(tmp_path / "r"), str(tmp_path / "again"))
    assert said.returncode == 0, said.stderr
    verdicts = json.loads((tmp_path / "comparison-r-vs-again.json").read_text())["verdicts"]["again"]
    assert len(verdicts) == 2 and {v["basis"] for row in verdicts for v in row} == {"runs"}
    assert {v["verdict"] for row in verdicts for v in row} == {"no detectable difference"}
    assert "over 3 and 3 runs" in said.stdout
