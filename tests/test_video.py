"""Video (--video-*): clips as vLLM takes them for Qwen3-Omni, their tokens equal to the simulator's count."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.argparsing import BadOption
from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim
from harness.devtools.verify import request_errors
from harness.load.video import make_video, sound_track
from harness.master.stats import percentile
from harness.options import options_from_argv
from harness.records import read_records
from harness.videofile import read_video

from common import MODEL, headless

VIDEO_FLAGS = ["--image-num", "0", "--min-prompt-length", "64", "--max-prompt-length", "64", "--max-tokens", "8"]
SEND_P99_LIMIT_S = 0.002


def test_synthetic_clips_are_mp4_with_the_asked_frames_and_track() -> None:
    rng = np.random.default_rng(5)
    clip = make_video(320, 240, 3.0, 4.0, "shapes", rng, sound_track(3.0, 4.0, "tone", rng))
    facts = read_video(clip)
    assert (facts.width_px, facts.height_px, facts.frames) == (320, 240, 12)
    assert facts.audio_rate_hz == 16_000 and facts.audio_samples >= 3 * 16_000  # AAC pads to whole frames
    silent = read_video(make_video(320, 240, 3.0, 4.0, "noise", np.random.default_rng(5)))
    assert silent.audio_samples == 0 and silent.tokens(True) == silent.tokens(False)
    assert facts.tokens(True) > facts.tokens(False) == silent.tokens(False)


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--video-num", "1", "--video-width", "641"], "--video-width"),
        (["--video-num", "1", "--video-seconds", "0"], "--video-seconds"),
        (["--video-num", "1", "--video-fps", "500"], "--video-fps"),
        (["--video-num", "9"], "--video-num"),
        (["--video-seconds", "4"], "--video-seconds"),  # no effect without --video-num
        (["--video-audio", "tone"], "--video-audio"),
    ],
)
def test_bad_video_flags_name_the_flag(argv: list[str], flag: str) -> None:
    with pytest.raises(BadOption) as refused:
        options_from_argv(["--model", "m", *argv], "http://127.0.0.1:9")
    assert refused.value.flag == flag


def test_a_video_sweep_sends_distinct_clips_whose_tokens_equal_the_servers_count(tmp_path: Path) -> None:
    sim = start_sim(["--fixed", "20", "5", "--model", MODEL], ground_truth=str(tmp_path / "gt.jsonl"))
    try:
        result = run_locust(
            headless(
                sim.base_url,
                tmp_path / "r",
                "--parallel",
                "1",
                "50",
                "--number",
                "4",
                "100",
                "--video-num",
                "1",
                "--video-audio",
                "tone",
                *VIDEO_FLAGS,
            )
        )
        truth = {row["request_id"]: row for row in sim.ground_truth_records()}
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    records = [r for r in read_records(str(tmp_path / "r" / "requests.jsonl")) if not r.warmup]
    assert len(records) == 104 and {r.status for r in records} == {"ok"}
    for record in records:
        seen = truth[record.request_id]
        assert record.expected_video_tokens == seen["video_tokens"] > seen["video_track_tokens"] > 0
        assert record.expected_media_tokens == seen["image_tokens"] + seen["audio_tokens"] + seen["video_tokens"]
        assert record.multimodal_tokens == seen["video_tokens"]  # the server's usage, less the text
        assert record.video_s == 2.0 and record.request_bytes > 10_000
    digests = [video[4] for record in records for video in truth[record.request_id]["videos"]]
    assert len(set(digests)) == len(digests) == 104  # a fresh clip every request
    fifty = [r for r in records if r.stage == max(r.stage for r in records)]
    send_s = sorted(e.send_s for e in request_errors(fifty, truth.values()))
    print(
        f"send side at 50 users with video: p99 {percentile(send_s, 99) * 1000:.2f} ms, max {send_s[-1] * 1000:.2f} ms"
    )
    assert len(send_s) == 100 and percentile(send_s, 99) <= SEND_P99_LIMIT_S, send_s[-5:]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["config"]["request_fields"]["mm_processor_kwargs"] == {"use_audio_in_video": True}


def test_a_server_that_fails_every_video_is_named_before_load(tmp_path: Path) -> None:
    """transformers serve 5.17 answers a video_url with a 500 (simulator --compat openai does as it does)."""
    sim = start_sim(["--fixed", "20", "5", "--model", MODEL, "--compat", "openai"], ground_truth=str(tmp_path / "gt"))
    try:
        result = run_locust(
            headless(sim.base_url, tmp_path / "r", "--parallel", "2", "--number", "4", "--video-num", "1", *VIDEO_FLAGS)
        )
        truth = sim.ground_truth_records()
    finally:
        sim.stop()
    assert result.returncode == 2, result.stderr[-2000:]
    assert "--video-num: " in result.stderr and "--video-num 0 sends no video" in result.stderr
    assert all(row["request_id"].startswith("preflight-") for row in truth)  # nothing of the load was sent


def test_heard_tracks_refused_by_name_point_at_video_audio(tmp_path: Path) -> None:
    sim = start_sim(["--fixed", "20", "5", "--model", MODEL, "--compat", "openai"])
    try:
        result = run_locust(
            headless(
                sim.base_url,
                tmp_path / "r",
                "--parallel",
                "2",
                "--number",
                "4",
                "--video-num",
                "1",
                "--video-audio",
                "noise",
                "--server-profile",
                "openai",
                *VIDEO_FLAGS,
            )
        )
    finally:
        sim.stop()
    assert result.returncode == 2
    assert "--video-audio: " in result.stderr and "mm_processor_kwargs" in result.stderr


def test_video_dir_clips_are_sent_and_counted_and_a_corrupt_one_stops_the_run(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    for index, (side_px, seconds) in enumerate(((320, 2.0), (480, 5.0))):
        rng = np.random.default_rng(index)
        track = sound_track(seconds, 3.0, "speech", rng)
        clip = make_video(side_px, side_px // 2 * 2, seconds, 3.0, "shapes", rng, track)
        (clips / f"clip{index}.mp4").write_bytes(clip)
    sim = start_sim(["--fixed", "20", "5", "--model", MODEL], ground_truth=str(tmp_path / "gt.jsonl"))
    try:
        run = headless(sim.base_url, tmp_path / "r", "--parallel", "2", "--number", "6", "--video-num", "1")
        result = run_locust([*run, "--video-dir", str(clips), "--video-audio", "tone", *VIDEO_FLAGS])
        truth = {row["request_id"]: row for row in sim.ground_truth_records()}
        (clips / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(300))
        broken = run_locust([*run, "--video-dir", str(clips), *VIDEO_FLAGS])
        sent_after = len(sim.ground_truth_records())
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    records = [r for r in read_records(str(tmp_path / "r" / "requests.jsonl")) if not r.warmup]
    assert len(records) == 6 and {r.status for r in records} == {"ok"}
    assert {r.expected_video_tokens for r in records} == {truth[r.request_id]["video_tokens"] for r in records}
    assert len({r.expected_video_tokens for r in records}) == 2  # both files, taken in turn
    assert all(r.expected_video_tokens == truth[r.request_id]["video_tokens"] for r in records)
    assert broken.returncode == 2 and "--video-dir: " in broken.stderr and "broken.mp4" in broken.stderr
    assert sent_after == len(truth)  # the corrupt file stopped the run before any request
