"""Spoken answers end to end: omniload --audio-output against the simulator's talker, every figure against the
simulator's own record of each audio chunk (harness/sim/talker.py), in both stream shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim
from harness.playback import playback
from harness.records import read_records

from common import MODEL, TEXT_ONLY, headless

# 8 output tokens: 0.8 s of speech in 4 chunks of 0.2 s, made at 4x real time, the first 50 ms after the first token
TALKER = [
    "--fixed",
    "5",
    "2",
    "--talker",
    "--talker-ttfa-ms",
    "50",
    "--talker-chunk-ms",
    "200",
    "--talker-rtf",
    "0.25",
    "--talker-rtf-per-seq",
    "0",
    "--talker-seconds-per-token",
    "0.1",
]
# a fifth of the answers stall: before the first chunk (late first audio) or before the third (the player runs dry)
STALLS = ["--fault-rate", "0.2", "--faults", "talker_stall:0.5@1", "talker_stall:0.6@3"]
SPEAK = [*TEXT_ONLY[:-1], "8", "--audio-output"]
TTFA_SLO_MS = 300


@pytest.mark.parametrize(
    ("profile", "users", "sizes"),
    [("vllm", (1, 10, 50), (10, 40, 100)), ("openai", (10,), (60,))],
    ids=["vllm-omni-shape", "openai-shape"],
)
def test_spoken_answers_equal_the_ground_truth_at_1_10_and_50_users(
    tmp_path: Path, profile: str, users: tuple[int, ...], sizes: tuple[int, ...]
) -> None:
    truth_path = tmp_path / "truth.jsonl"
    sim = start_sim(["--model", MODEL, *TALKER, *STALLS, "--seed", "3"], str(truth_path))
    total = sum(sizes)
    try:
        flags = ["--parallel", *map(str, users), "--number", *map(str, sizes), "--server-profile", profile]
        result = run_locust(headless(sim.base_url, tmp_path / "r", *SPEAK, *flags, "--goodput", f"ttfa:{TTFA_SLO_MS}"))
        truth = {row["request_id"]: row for row in sim.wait_records(total)}
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    records = [r for r in read_records(str(tmp_path / "r" / "requests.jsonl")) if not r.warmup]
    assert len(records) == total and all(r.status == "ok" for r in records)
    shape = "vllm-omni" if profile == "vllm" else "openai"
    stalled_first = underran = 0
    for record in records:
        seen = truth[record.request_id]
        assert seen["speech_shape"] == shape
        assert record.ttfa_s is not None and abs(record.ttfa_s - seen["ttfa_s"]) < 0.001, record.request_id
        assert record.audio_out_s == seen["audio_s"] == 0.8  # exact: counted in samples on both sides
        assert len(record.audio_chunk_at_s) == len(seen["audio_chunks"]) == 4
        assert record.underruns == seen["underruns"]
        assert abs(record.underrun_s - seen["underrun_s"]) < 0.002
        heard = playback(record.audio_chunk_at_s, record.audio_chunk_s)
        assert (heard.underruns, heard.ttfa_s) == (record.underruns, record.ttfa_s)
        stalled_first += seen["fault"] == "talker_stall:0.5@1"
        underran += record.underruns > 0
        if seen["fault"] == "talker_stall:0.6@3":
            # chunk 3 due at 0.1 s after the first, 0.6 s late; the first two have played out 0.4 s after it
            assert record.underruns == 1 and record.underrun_s == pytest.approx(0.3, abs=0.01)
    assert stalled_first >= 3 and underran >= 3  # a fifth of them, split between the two stalls
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    stages = summary["stages"]
    assert [stage["parallel"] for stage in stages] == list(users)
    for stage, size in zip(stages, sizes, strict=True):
        own = [r for r in records if r.stage == stages.index(stage)]
        assert stage["speech"]["answers"] == size
        assert stage["speech"]["underruns"] == sum(r.underruns for r in own)
        # a late first audio fails the ttfa SLO: goodput counts exactly the answers heard in time
        assert stage["good_requests"] == sum(1 for r in own if r.ttfa_s is not None and r.ttfa_s <= TTFA_SLO_MS / 1000)
    assert sum(stage["good_requests"] for stage in stages) == total - stalled_first
    header = (tmp_path / "r" / "stages.csv").read_text().splitlines()[0].split(",")
    assert {"p50_ttfa_s", "p90_rtf", "underrun_share", "underrun_share_high", "speech_s_per_s"} <= set(header)
    assert "Avg TTFA(ms)" in result.stdout and "Underrun" in result.stdout


def test_the_report_plays_a_spoken_answer_and_draws_its_playback(tmp_path: Path) -> None:
    sim = start_sim(["--model", MODEL, *TALKER, "--faults", "talker_stall:0.6@3", "--fault-rate", "0.5"])
    try:
        result = run_locust(headless(sim.base_url, tmp_path / "r", *SPEAK, "--parallel", "4", "--number", "12"))
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    from harness.devtools.browser import audio_seconds, browser_page

    with browser_page() as (page, log):
        page.goto((tmp_path / "r" / "report.html").as_uri())
        chart = page.locator("#speech figure.chart").first
        assert "underrun" in chart.inner_text()  # the stage's driest answer, its underrun marked
        assert page.locator("#speech audio").count() == 2  # the stage's first two answers
        duration_s = audio_seconds(page, "#speech audio")
        assert duration_s == pytest.approx(0.8, abs=0.01)  # the answer decodes in the browser, whole
        assert not log.console_errors and not log.blocked_requests


def test_a_server_that_cannot_speak_is_refused_before_load(tmp_path: Path) -> None:
    truth_path = tmp_path / "truth.jsonl"
    sim = start_sim(["--model", MODEL, "--fixed", "5", "2"], str(truth_path))  # no --talker: text only
    try:
        result = run_locust(headless(sim.base_url, tmp_path / "r", *SPEAK, "--parallel", "2", "--number", "4"))
    finally:
        sim.stop()
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("omniload: error: --audio-output: the server answered")
    assert sim.ground_truth_records() == []  # nothing but the one check request


def test_text_only_requests_to_a_talker_get_text_alone(tmp_path: Path) -> None:
    truth_path = tmp_path / "truth.jsonl"
    sim = start_sim(["--model", MODEL, *TALKER], str(truth_path))
    try:
        result = run_locust(headless(sim.base_url, tmp_path / "r", *TEXT_ONLY, "--parallel", "2", "--number", "6"))
        truth = sim.wait_records(6)
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    records = read_records(str(tmp_path / "r" / "requests.jsonl"))
    assert all(r.status == "ok" and r.ttfa_s is None and not r.audio_chunk_at_s for r in records)
    assert all("audio_chunks" not in row and "modalities" not in json.dumps(row["sampling"]) for row in truth)
    stage = json.loads((tmp_path / "r" / "summary.json").read_text())["stages"][0]
    assert "speech" not in stage and "ttfa_s" not in stage
    assert "TTFA" not in result.stdout


def test_a_cut_audio_stream_fails_and_keeps_what_arrived(tmp_path: Path) -> None:
    truth_path = tmp_path / "truth.jsonl"
    # seed 0: the first draw (the check request before load) is no fault
    sim = start_sim(["--model", MODEL, *TALKER, "--fault-rate", "0.3", "--faults", "audio_cut@2"], str(truth_path))
    try:
        result = run_locust(headless(sim.base_url, tmp_path / "r", *SPEAK, "--parallel", "4", "--number", "20"))
        truth = {row["request_id"]: row for row in sim.wait_records(20)}
    finally:
        sim.stop()
    assert result.returncode == 1, result.stderr[-3000:]  # some requests failed
    cut = [r for r in read_records(str(tmp_path / "r" / "requests.jsonl")) if truth[r.request_id]["fault"]]
    assert cut and all(r.error is not None and r.error["reason"] == "stream_truncated" for r in cut)
    for record in cut:  # what arrived before the cut is kept, as the talker sent it
        assert len(record.audio_chunk_at_s) == len(truth[record.request_id]["audio_chunks"]) == 2
        assert record.audio_out_s == truth[record.request_id]["audio_s"] == 0.4
