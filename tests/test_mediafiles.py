"""The user's own media (--image-dir, --audio-dir): checked before load, sent as they are, counted as the
server counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim
from harness.mediafiles import MediaError, read_audio_dir, read_image_dir
from harness.records import read_records

from common import MODEL, headless

SMALL = ["--max-tokens", "4", "--min-prompt-length", "32", "--max-prompt-length", "32"]


@pytest.fixture()
def media(tmp_path: Path) -> tuple[Path, Path]:
    """Two images of different sizes and formats, and two clips of different lengths and formats."""
    images, clips = tmp_path / "images", tmp_path / "clips"
    images.mkdir()
    clips.mkdir()
    Image.new("RGB", (640, 480), (10, 200, 30)).save(images / "a.png")
    Image.new("RGB", (300, 200), (200, 10, 30)).save(images / "b.jpg", quality=80)
    soundfile.write(clips / "a.wav", np.zeros(16000 * 2, dtype=np.float32), 16000)
    soundfile.write(clips / "b.flac", np.zeros(int(16000 * 1.5), dtype=np.float32), 16000)
    return images, clips


def test_each_file_is_read_once_with_its_format_and_tokens(media: tuple[Path, Path]) -> None:
    images, clips = media
    assert [(Path(f.path).name, f.kind, f.tokens) for f in read_image_dir(str(images))] == [
        ("a.png", "image/png", 302),
        ("b.jpg", "image/jpeg", 56),
    ]
    assert [(Path(f.path).name, f.kind, f.tokens) for f in read_audio_dir(str(clips))] == [
        ("a.wav", "wav", 28),
        ("b.flac", "flac", 22),
    ]


def test_a_truncated_or_foreign_file_is_named(media: tuple[Path, Path], tmp_path: Path) -> None:
    images, clips = media
    (images / "c.png").write_bytes((images / "a.png").read_bytes()[:60])  # cut short
    with pytest.raises(MediaError, match=r"c\.png: not an image") as caught:
        read_image_dir(str(images))
    assert caught.value.flag == "--image-dir"
    (clips / "notes.txt").write_text("not a clip")
    with pytest.raises(MediaError, match=r"notes\.txt: not audio"):
        read_audio_dir(str(clips))
    (tmp_path / "empty").mkdir()
    with pytest.raises(MediaError, match="holds no files"):
        read_image_dir(str(tmp_path / "empty"))


def test_a_sweep_sends_the_users_files_and_expects_what_the_server_counts(
    media: tuple[Path, Path], tmp_path: Path
) -> None:
    images, clips = media
    sim = start_sim(["--fixed", "5", "1", "--model", MODEL], ground_truth=str(tmp_path / "gt.jsonl"))
    try:
        result = run_locust(
            headless(
                sim.base_url,
                tmp_path / "r",
                "--parallel",
                "2",
                "--number",
                "8",
                "--image-dir",
                str(images),
                "--image-num",
                "2",
                "--audio-dir",
                str(clips),
                "--audio-num",
                "1",
                *SMALL,
            )
        )
        truth = {record["request_id"]: record for record in sim.ground_truth_records()}
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    records = read_records(str(tmp_path / "r" / "requests.jsonl"))
    assert len(records) == 8
    for record in records:
        seen = truth[record.request_id]
        assert record.expected_media_tokens == seen["image_tokens"] + seen["audio_tokens"]
        assert sorted(tuple(image[:2]) for image in seen["images"]) == [(300, 200), (640, 480)]
    assert {truth[r.request_id]["audio_tokens"] for r in records} == {28, 22}  # both clips, in turn


def test_a_corrupt_file_exits_2_before_any_request(media: tuple[Path, Path], tmp_path: Path) -> None:
    images, _ = media
    (images / "z.png").write_bytes(b"\x89PNG not really")
    sim = start_sim(["--fixed", "5", "1", "--model", MODEL], ground_truth=str(tmp_path / "gt.jsonl"))
    try:
        result = run_locust(
            headless(
                sim.base_url, tmp_path / "r", "--parallel", "1", "--number", "2", "--image-dir", str(images), *SMALL
            )
        )
        seen = sim.ground_truth_records(with_preflight=True)
    finally:
        sim.stop()
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert result.returncode == 2 and len(errors) == 1, result.stderr[-2000:]
    assert errors[0].startswith("omniload: error: --image-dir: ") and "z.png" in errors[0]
    assert seen == []  # nothing was sent
    assert "Traceback" not in result.stderr
