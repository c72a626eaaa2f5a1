"""--mix: request classes drawn by weight, every stage's figures per class beside the overall row."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import generate_latest

from harness.argparsing import BadOption
from harness.devtools.browser import browser_page
from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim
from harness.load.classes import class_spec, draw_classes
from harness.load.payloads import build_payloads
from harness.master.metrics import LiveMetrics
from harness.mix import read_mix
from harness.options import options_from_argv
from harness.records import RequestRecord, read_records
from harness.tokenizer import load_tokenizer

from common import MODEL, headless

FOUR_CLASSES = """
text: {weight: 4, prompt_tokens: [128, 256], max_tokens: 4}
image: {weight: 3, image_num: 1, image_width: [128, 256], image_height: 128}
image_audio: {weight: 2, image_num: [1, 2], image_width: 96, image_height: 96, audio_num: 1, audio_seconds: [0.5, 1.5]}
video: {weight: 1, video_num: 1, video_width: 160, video_height: 96, video_seconds: 1, video_audio: speech}
"""
WEIGHTS = {"text": 0.4, "image": 0.3, "image_audio": 0.2, "video": 0.1}


def write_mix(tmp_path: Path, text: str = FOUR_CLASSES, name: str = "mix.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("text: {prompt_tokens: 64}", "weight must be a number above 0"),
        ("text: {weight: 1, images: 2}", "unknown setting 'images'"),
        ("text: {weight: 1, image_num: [3, 1]}", "smallest first"),
        ("video: {weight: 1, video_num: 1, video_width: 161}", "must be even"),
        ("probe: {weight: 1}", "a name of letters"),
        ("text: {weight: 1, video_audio: music}", "video_audio must be one of"),
        ("- a list", "expected a mapping"),
        ("text: {weight: 1", "not valid YAML"),
    ],
)
def test_a_bad_mix_is_one_line_naming_the_flag_and_the_class(tmp_path: Path, text: str, said: str) -> None:
    with pytest.raises(BadOption) as refused:
        options_from_argv(["--model", "m", "--mix", write_mix(tmp_path, text)], "http://127.0.0.1:9")
    assert refused.value.flag == "--mix" and said in str(refused.value) and "\n" not in str(refused.value)


def test_json_mixes_are_read_too(tmp_path: Path) -> None:
    path = write_mix(tmp_path, json.dumps({"a": {"weight": 1}, "b": {"weight": 2, "image_num": 1}}), "mix.json")
    assert [c.name for c in read_mix(path)] == ["a", "b"]


def test_a_class_draws_its_ranges_and_carries_no_media_it_does_not_name(tmp_path: Path) -> None:
    spec = options_from_argv(["--model", "m", "--mix", write_mix(tmp_path)], "http://127.0.0.1:9").payload
    rng = np.random.default_rng(0)
    text, image = (class_spec(spec, c, rng) for c in spec.mix[:2])
    assert (text.image_num, text.audio_num, text.video.num, text.max_tokens) == (0, 0, 0, 4)
    assert (text.min_prompt_tokens, text.max_prompt_tokens) == (128, 256)
    widths = {class_spec(spec, spec.mix[1], rng).image_width_px for _ in range(200)}
    assert min(widths) >= 128 and max(widths) <= 256 and len(widths) > 50 and image.image_height_px == 128
    counts = np.bincount(draw_classes(spec.mix, 10_000, rng), minlength=4) / 10_000
    assert np.allclose(counts, list(WEIGHTS.values()), atol=0.02)


def test_mix_payloads_carry_their_class_and_what_it_names(tmp_path: Path) -> None:
    spec = options_from_argv(["--model", "m", "--mix", write_mix(tmp_path)], "http://127.0.0.1:9").payload
    payloads = build_payloads(spec, "m", load_tokenizer(), 60, 3, 3)
    assert len({p.body for p in payloads}) == 60
    for payload in payloads:
        body = json.loads(payload.body)
        kinds = [part["type"] for part in body["messages"][0]["content"]] if payload.request_class != "text" else []
        if payload.request_class == "text":
            assert isinstance(body["messages"][0]["content"], str) and body["max_tokens"] == 4
        elif payload.request_class == "image":
            assert kinds == ["text", "image_url"] and payload.images == 1
        elif payload.request_class == "image_audio":
            assert kinds.count("input_audio") == 1 and 1 <= payload.images == kinds.count("image_url") <= 2
        else:
            assert kinds == ["text", "video_url"] and payload.expected_video_tokens > 0
            assert body["mm_processor_kwargs"] == {"use_audio_in_video": True}


def test_live_metrics_say_each_requests_class() -> None:
    metrics = LiveMetrics(MODEL, classes=("text", "video", "probe"))
    record = RequestRecord("r", 1, 0, 0, 1.0, 10, ttft_s=0.02, latency_s=0.1, request_class="video")
    metrics.observe(record)
    exposed = generate_latest(metrics.registry).decode()
    assert f'omniload_ttft_seconds_count{{class="video",model="{MODEL}"}} 1.0' in exposed
    assert f'omniload_ttft_seconds_count{{class="text",model="{MODEL}"}} 0.0' in exposed
    assert 'class="probe",model=' in exposed


def test_a_four_class_mix_gives_per_class_rows_that_add_up_to_the_stage(tmp_path: Path) -> None:
    sim = start_sim(["--fixed", "10", "2", "--model", MODEL], ground_truth=str(tmp_path / "gt.jsonl"))
    try:
        result = run_locust(
            headless(
                sim.base_url,
                tmp_path / "r",
                "--parallel",
                "4",
                "16",
                "--number",
                "40",
                "400",
                "--mix",
                write_mix(tmp_path),
                "--min-prompt-length",
                "64",
                "--max-prompt-length",
                "64",
                "--max-tokens",
                "8",
            )
        )
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    for stage in summary["stages"]:
        classes = stage["classes"]
        assert set(classes) == set(WEIGHTS)
        for key in ("sent", "succeeded", "failed"):
            assert sum(c[key] for c in classes.values()) == stage[key]
        for key in ("rps", "output_tokens_per_s"):
            assert math.isclose(sum(c[key] for c in classes.values()), stage[key], rel_tol=1e-9)
        for name, share in WEIGHTS.items():  # binomial counts: within 4 standard deviations of the weight
            expected = stage["sent"] * share
            assert abs(classes[name]["sent"] - expected) <= 4 * math.sqrt(expected * (1 - share)) + 1
        assert classes["text"].get("media") is not None and classes["video"]["media"]["video_s_per_s"] > 0
        assert classes["text"]["media"]["images_per_s"] == 0 and classes["image"]["media"]["images_per_s"] > 0
    with open(tmp_path / "r" / "stages.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["class"] for row in rows] == ["all", *sorted(WEIGHTS)] * 2
    assert sum(int(row["sent"]) for row in rows if row["class"] != "all") == sum(s["sent"] for s in summary["stages"])
    records = read_records(str(tmp_path / "r" / "requests.jsonl"))
    assert {r.request_class for r in records} == set(WEIGHTS)
    assert "Class" in result.stdout and "image_audio" in result.stdout  # the console's per-class rows
    with browser_page() as (page, log):
        page.goto((tmp_path / "r" / "report.html").as_uri())
        classes_shown = page.locator("#stages tbody tr td:first-child").all_inner_texts()
        assert classes_shown == ["all", *sorted(WEIGHTS)] * 2
        scatter = page.locator("figure.chart", has_text="TTFT against the request's multimodal tokens")
        assert scatter.locator(".mark").count() == sum(r.status == "ok" for r in records if not r.warmup)
        assert not log.console_errors
