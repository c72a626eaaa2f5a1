"""--dataset: a dataset's rows as load, each row's messages sent as they are, bad rows counted and named."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from harness.dataset import read_dataset
from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim
from harness.omnibench.dataset import bundled_sample_path
from harness.records import read_records

from common import MODEL, headless


def _png(side_px: int) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.full((side_px, side_px, 3), 90, dtype=np.uint8)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _digest(messages: list) -> str:
    return hashlib.blake2b(
        json.dumps(messages, ensure_ascii=False, separators=(",", ":")).encode(), digest_size=8
    ).hexdigest()


def write_rows(path: Path) -> list[list]:
    rows = [
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Name a río — «quick»."},
            ]
        },
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": _png(64)}},
                    ],
                }
            ],
            "max_tokens": 5,
        },
        {"messages": [{"role": "user", "content": "Count to three."}], "max_tokens": 3},
    ]
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    lines.insert(1, "{not json")
    lines.insert(3, json.dumps({"prompt": "no messages here"}))
    lines.append(
        json.dumps(
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}],
                    }
                ]
            }
        )
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [row["messages"] for row in rows]


def test_bad_rows_are_counted_and_named_by_line(tmp_path: Path) -> None:
    write_rows(tmp_path / "rows.jsonl")
    dataset = read_dataset(str(tmp_path / "rows.jsonl"))
    assert len(dataset.rows) == 3 and [where for where, _ in dataset.bad] == ["line 2", "line 4", "line 6"]
    assert "not a base64 data URL" in dict(dataset.bad)["line 6"]
    assert dataset.rows[1].media_tokens == 6 and dataset.rows[1].max_tokens == 5  # 64x64: scaled to 64x64


def test_a_dataset_run_sends_every_rows_messages_as_they_are(tmp_path: Path) -> None:
    messages = write_rows(tmp_path / "rows.jsonl")
    sim = start_sim(["--fixed", "5", "1", "--model", MODEL], ground_truth=str(tmp_path / "gt.jsonl"))
    try:
        result = run_locust(
            headless(
                sim.base_url,
                tmp_path / "r",
                "--parallel",
                "1",
                "--number",
                "6",
                "--dataset",
                str(tmp_path / "rows.jsonl"),
                "--max-tokens",
                "8",
            )
        )
        truth = {row["request_id"]: row for row in sim.ground_truth_records()}
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    assert "3 of 6 rows left out (line 2: not JSON" in result.stderr
    records = [r for r in read_records(str(tmp_path / "r" / "requests.jsonl")) if not r.warmup]
    assert len(records) == 6 and {r.status for r in records} == {"ok"}
    sent = [truth[r.request_id]["messages_digest"] for r in sorted(records, key=lambda r: r.t_send)]
    assert sent == [_digest(m) for m in messages] * 2  # each row's messages, in file order, as they were
    for record in records:
        assert record.expected_text_tokens == truth[record.request_id]["text_tokens"]
        assert record.expected_media_tokens == truth[record.request_id]["image_tokens"]
    assert sorted({truth[r.request_id]["sampling"]["max_tokens"] for r in records}) == [3, 5, 8]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["dataset"]["rows"] == 3 and summary["dataset"]["bad_rows"] == 3


def test_sharegpt_and_omnibench_layouts(tmp_path: Path) -> None:
    share = [
        {"conversations": [{"from": "human", "value": "Hi there"}, {"from": "gpt", "value": "Hello to you"}]},
        {"conversations": [{"from": "gpt", "value": "I start"}, {"from": "human", "value": "no"}]},
    ]
    (tmp_path / "share.json").write_text(json.dumps(share))
    sharegpt = read_dataset(str(tmp_path / "share.json"))
    assert len(sharegpt.rows) == 1 and sharegpt.rows[0].max_tokens == 3 and sharegpt.bad[0][0] == "row 1"
    omnibench = read_dataset(bundled_sample_path())
    assert omnibench.rows and not omnibench.bad
    assert all(row.images == 1 and row.audio_s > 0 and row.media_tokens > 0 for row in omnibench.rows)
