"""The OmniBench pass: EvalScope's prompt and scoring, the bundled samples, exact scores against the simulator."""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.devtools.simprocess import SimProcess, start_sim
from harness.omnibench.dataset import DatasetError, bundled_sample_path, load_samples
from harness.omnibench.prompt import build_messages, prompt_text, target_letter
from harness.omnibench.scoring import extract_letter
from harness.sim.answers import right_questions

from common import MODEL, omniload

ACCURACY = 0.75


@pytest.mark.parametrize(
    ("output", "letter"),
    [
        ("Let me think. B seems close.\nANSWER: C", "C"),
        ("ANSWER: A\n...on reflection ANSWER: D", "D"),
        ("answer: b", "B"),
        ("ANSWER: Z\nso B", "B"),
        ("I pick C. Or maybe A", "A"),
        ("no idea", None),
        ("ANSWER: (C)", "C"),
        ("ANSWER: E", None),
    ],
)
def test_letter_extraction(output: str, letter: str | None) -> None:
    assert extract_letter(output, 4) == letter


def test_bundled_samples_have_omnibench_layout() -> None:
    samples = load_samples(None)
    assert len(samples) == 24 and len(load_samples(None, limit=5)) == 5
    assert {s.audio_type for s in samples} == {"speech", "sound event"}
    assert all(s.answer in s.options and s.image_bytes[:4] == b"\x89PNG" for s in samples)
    assert len({s.question for s in samples}) == 24


def test_request_is_built_as_evalscope_builds_it() -> None:
    sample = load_samples(None, limit=1)[0]
    text = prompt_text(sample)
    assert text.startswith("Answer the following multiple choice question based on the image and audio content.")
    assert "where [LETTER] is one of A,B,C,D." in text
    assert f"\n\n{sample.question}\n\nA) {sample.options[0]}\nB) {sample.options[1]}" in text
    content = build_messages(sample, use_image=True, use_audio=True)[0]["content"]
    assert [part["type"] for part in content] == ["text", "image_url", "input_audio"]
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert content[2]["input_audio"]["format"] == "mp3"
    described = build_messages(sample, use_image=False, use_audio=False)[0]["content"]
    assert described[1]["text"] == f"[Image Alternative Text]: {sample.image_content}"
    assert described[2]["text"] == f"[Audio Alternative Text]: {sample.audio_content}"
    assert target_letter(sample) == "ABCD"[sample.options.index(sample.answer)]


def test_missing_dataset_and_offline_hub_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DatasetError, match="neither a parquet file"):
        load_samples("./no/such/file.parquet")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DatasetError, match="cannot fetch m-a-p/OmniBench"):
        load_samples("m-a-p/OmniBench")


def expected_scores() -> tuple[float, dict[str, float], dict[str, float]]:
    samples = load_samples(None)
    right = right_questions([s.question for s in samples], ACCURACY)
    by_task: dict[str, list[bool]] = defaultdict(list)
    by_audio: dict[str, list[bool]] = defaultdict(list)
    for sample in samples:
        by_task[sample.task_type].append(sample.question in right)
        by_audio[sample.audio_type].append(sample.question in right)
    return (
        len(right) / len(samples),
        {k: sum(v) / len(v) for k, v in by_task.items()},
        {k: sum(v) / len(v) for k, v in by_audio.items()},
    )


@pytest.fixture(scope="module")
def answering_sim(tmp_path_factory: pytest.TempPathFactory) -> SimProcess:
    truth = tmp_path_factory.mktemp("omni") / "gt.jsonl"
    sim = start_sim(
        [
            "--fixed",
            "5",
            "1",
            "--model",
            MODEL,
            "--answer-key",
            bundled_sample_path(),
            "--answer-accuracy",
            str(ACCURACY),
        ],
        ground_truth=str(truth),
    )
    yield sim  # type: ignore[misc]
    sim.stop()


def omnibench(args: list[str]) -> subprocess.CompletedProcess[str]:
    return omniload("omnibench", *args, cwd=Path.cwd())


def test_standalone_reports_the_exact_score_and_resumes(answering_sim: SimProcess, tmp_path: Path) -> None:
    overall, by_task, by_audio = expected_scores()
    args = ["--api-url", answering_sim.base_url, "--model", MODEL, "--report-dir", str(tmp_path), "--concurrency", "4"]
    result = omnibench(args)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "omnibench" / "summary.json").read_text())
    assert overall == ACCURACY and summary["mean_acc"] == ACCURACY and summary["num"] == 24
    assert {k: v["mean_acc"] for k, v in summary["by_task_type"].items()} == pytest.approx(by_task)
    assert {k: v["mean_acc"] for k, v in summary["by_audio_type"].items()} == pytest.approx(by_audio)
    assert f"| {MODEL} | omni_bench | mean_acc | OVERALL" in result.stdout.replace("  ", " ").replace("  ", " ")
    lines = (tmp_path / "omnibench" / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 24 and {"index", "target", "output", "extracted", "correct", "latency_s", "usage"} <= set(
        json.loads(lines[0])
    )
    assert "the bundled OmniBench sample (24 samples" in summary["source"]
    assert (tmp_path / "report.html").exists() and f"report: {tmp_path / 'report.html'}" in result.stdout
    asked = len(answering_sim.ground_truth_records())
    rerun = omnibench(args)
    assert rerun.returncode == 0 and json.loads((tmp_path / "omnibench" / "summary.json").read_text())["resumed"] == 24
    assert len(answering_sim.ground_truth_records()) == asked  # nothing asked again
    assert "OmniBench: resumed 24 of 24 samples already answered" in rerun.stdout  # said out loud
    fresh = omnibench([*args, "--no-resume"])
    assert fresh.returncode == 0 and json.loads((tmp_path / "omnibench" / "summary.json").read_text())["resumed"] == 0
    assert len(answering_sim.ground_truth_records()) == asked + 24  # every sample asked again


def test_transient_errors_are_retried_and_failures_counted_apart(tmp_path: Path) -> None:
    sim = start_sim(
        [
            "--fixed",
            "5",
            "1",
            "--model",
            MODEL,
            "--answer-key",
            bundled_sample_path(),
            "--faults",
            "http_503",
            "--fault-rate",
            "0.4",
            "--seed",
            "11",
        ],
        ground_truth=str(tmp_path / "gt.jsonl"),
    )
    try:
        result = omnibench(
            ["--api-url", sim.base_url, "--model", MODEL, "--report-dir", str(tmp_path), "--concurrency", "8"]
        )
        truth = sim.ground_truth_records()
    finally:
        sim.stop()
    results = [json.loads(line) for line in (tmp_path / "omnibench" / "samples.jsonl").read_text().splitlines()]
    summary = json.loads((tmp_path / "omnibench" / "summary.json").read_text())
    assert summary["num"] + summary["failed"] == 24
    assert sum(r["attempts"] for r in results) == len(truth) > 24  # every attempt reached the server
    assert all(r["status"] == "ok" or (r["attempts"] == 3 and r["error"].startswith("HTTP 503")) for r in results)
    assert summary["mean_acc"] == 1.0  # accuracy 1.0 over the answered ones; failed ones are not "wrong"
    assert result.returncode == (1 if summary["failed"] else 0)


def test_unreadable_dataset_exits_2(tmp_path: Path) -> None:
    result = omnibench(
        [
            "--api-url",
            "http://127.0.0.1:9",
            "--model",
            MODEL,
            "--dataset",
            str(tmp_path / "nope"),
            "--report-dir",
            str(tmp_path),
        ]
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("omniload omnibench: error: --dataset: ")


def test_after_a_sweep_on_the_same_endpoint(answering_sim: SimProcess, tmp_path: Path) -> None:
    from harness.devtools.locustproc import run_locust

    result = run_locust(
        [
            "--headless",
            "--host",
            answering_sim.base_url,
            "--model",
            MODEL,
            "--report-dir",
            str(tmp_path),
            "--parallel",
            "1",
            "2",
            "--number",
            "1",
            "2",
            "--sleep-interval",
            "0",
            "--max-tokens",
            "8",
            "--image-num",
            "0",
            "--min-prompt-length",
            "32",
            "--max-prompt-length",
            "32",
            "--omnibench",
            "--omnibench-concurrency",
            "4",
        ]
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [stage["sent"] for stage in summary["stages"]] == [1, 2]
    assert summary["omnibench"]["mean_acc"] == ACCURACY and summary["omnibench"]["num"] == 24
    assert summary["config"]["omnibench"]["concurrency"] == 4
    assert json.loads((tmp_path / "omnibench" / "summary.json").read_text())["mean_acc"] == ACCURACY


def write_dataset(path: Path, change: Callable[[dict[str, Any]], None] | None = None, rows: int = 3) -> str:
    """A copy of the first bundled samples, with `change` applied to the first row."""
    table = pq.read_table(bundled_sample_path()).slice(0, rows).to_pylist()
    if change is not None:
        change(table[0])
    pq.write_table(pa.Table.from_pylist(table), path)
    return str(path)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"PAR1 not really a parquet file") and str(p), "not a readable parquet file"),
        (lambda p: write_dataset(p, lambda row: row.update(answer="no such option")), "is not one of its options"),
        (lambda p: write_dataset(p, lambda row: row["image"].update(bytes=b"\x89PNG broken")), "media cannot be read"),
        (lambda p: write_dataset(p, rows=0), "holds no samples"),
    ],
)
def test_bad_datasets_exit_2_before_any_request(
    answering_sim: SimProcess, tmp_path: Path, make: Callable[[Path], str], message: str
) -> None:
    asked = len(answering_sim.ground_truth_records())
    dataset = make(tmp_path / "bad.parquet")
    result = omnibench(
        ["--api-url", answering_sim.base_url, "--model", MODEL, "--dataset", dataset, "--report-dir", str(tmp_path)]
    )
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("omniload omnibench: error: --dataset: ") and message in last
    assert "Traceback" not in result.stderr
    assert len(answering_sim.ground_truth_records()) == asked


def test_a_cut_off_last_line_is_asked_again_on_resume(answering_sim: SimProcess, tmp_path: Path) -> None:
    args = ["--api-url", answering_sim.base_url, "--model", MODEL, "--report-dir", str(tmp_path), "--limit", "3"]
    assert omnibench(args).returncode == 0
    samples = tmp_path / "omnibench" / "samples.jsonl"
    text = samples.read_text()
    samples.write_text(text[: text.rstrip("\n").rfind("\n") + 1] + text.rstrip("\n").splitlines()[-1][:20])  # crash
    rerun = omnibench(args)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert json.loads((tmp_path / "omnibench" / "summary.json").read_text())["num"] == 3
    assert omnibench(args).returncode == 0  # and the file stays readable after that


@pytest.mark.parametrize("api_url_suffix", ["", "/v1", "/v1/", "/v1/chat/completions"])
def test_api_url_with_or_without_v1(answering_sim: SimProcess, tmp_path: Path, api_url_suffix: str) -> None:
    result = omnibench(
        [
            "--api-url",
            answering_sim.base_url + api_url_suffix,
            "--model",
            MODEL,
            "--report-dir",
            str(tmp_path),
            "--limit",
            "2",
        ]
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_4xx_stops_the_pass_at_once_without_retries(answering_sim: SimProcess, tmp_path: Path) -> None:
    asked = len(answering_sim.ground_truth_records())
    result = omnibench(
        ["--api-url", answering_sim.base_url, "--model", "not-the-served-model", "--report-dir", str(tmp_path)]
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("omniload omnibench: error: ")
    assert "HTTP 404" in result.stderr and "Traceback" not in result.stderr
    assert len(answering_sim.ground_truth_records()) - asked == 1  # one request, not 24 x 3
