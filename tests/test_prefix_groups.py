"""--prefix-groups: shared prefixes taken by popularity, and what the server's prefix cache makes of them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from harness.argparsing import BadOption
from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim
from harness.load.payloads import build_payloads
from harness.options import options_from_argv
from harness.records import read_records
from harness.sim.prefixcache import BLOCK_TOKENS
from harness.tokenizer import load_tokenizer

from common import MODEL, headless


def test_groups_are_taken_by_zipf_popularity_and_share_their_prefix_and_image() -> None:
    flags = ["--model", "m", "--prefix-length", "64", "--prefix-groups", "4", "--min-prompt-length", "80"]
    spec = options_from_argv(
        [*flags, "--max-prompt-length", "80", "--image-width", "64", "--image-height", "64", "--prefix-image"],
        "http://127.0.0.1:9",
    ).payload
    payloads = build_payloads(spec, "m", load_tokenizer(), 1200, 2, 2)
    counts = Counter(p.prefix_group for p in payloads)
    assert counts[0] > counts[1] > counts[2] > counts[3]
    assert counts[0] / counts[3] == pytest.approx(4, rel=0.35)  # 1/k: the first taken four times the fourth
    heads = {group: {p.text[:120] for p in payloads if p.prefix_group == group} for group in range(4)}
    assert all(len(texts) == 1 for texts in heads.values()) and len(set().union(*heads.values())) == 4
    images = {
        group: {
            json.loads(p.body)["messages"][0]["content"][1]["image_url"]["url"]
            for p in payloads
            if p.prefix_group == group
        }
        for group in range(4)
    }
    assert all(len(urls) == 1 for urls in images.values()) and len(set().union(*images.values())) == 4
    assert len({p.body for p in payloads}) == 1200  # the rest of each prompt is its own


@pytest.mark.parametrize(
    ("argv", "flag"),
    [(["--prefix-groups", "4"], "--prefix-groups"), (["--prefix-image"], "--prefix-image")],
)
def test_prefix_groups_need_a_prefix(argv: list[str], flag: str) -> None:
    with pytest.raises(BadOption) as refused:
        options_from_argv(["--model", "m", *argv], "http://127.0.0.1:9")
    assert refused.value.flag == flag


def test_a_group_after_its_first_request_finds_its_prefix_cached(tmp_path: Path) -> None:
    sim = start_sim(["--model", MODEL, "--enable-prompt-tokens-details"], ground_truth=str(tmp_path / "gt.jsonl"))
    try:
        result = run_locust(
            headless(
                sim.base_url,
                tmp_path / "r",
                "--parallel",
                "1",
                "--number",
                "16",
                "--prefix-length",
                "512",
                "--prefix-groups",
                "3",
                "--prefix-distribution",
                "uniform",
                "--image-num",
                "0",
                "--min-prompt-length",
                "64",
                "--max-prompt-length",
                "64",
                "--max-tokens",
                "4",
            )
        )
        truth = {row["request_id"]: row for row in sim.ground_truth_records()}
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    records = sorted(
        (r for r in read_records(str(tmp_path / "r" / "requests.jsonl")) if not r.warmup), key=lambda r: r.t_send
    )
    seen_groups: set[int | None] = set()
    for record in records:
        cached = truth[record.request_id]["cached_tokens"]
        assert (record.cached_tokens or 0) == cached
        if record.prefix_group in seen_groups:
            assert cached >= 512 - BLOCK_TOKENS  # the group's prefix, from the cache
        else:
            assert cached == 0  # the first of its group: nothing shared before it
        seen_groups.add(record.prefix_group)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert 0 < summary["stages"][0]["cache"]["cached_share"] < 1
