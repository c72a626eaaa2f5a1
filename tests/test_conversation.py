"""--multi-turn conversations and the prefix cache: later turns carry the server's exact answers, and the
cached tokens the simulator's vLLM-like cache finds shorten their prefill as it predicts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from harness.argparsing import BadOption
from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim
from harness.load.conversation import next_turn
from harness.load.payloads import build_payloads
from harness.options import options_from_argv
from harness.records import read_records
from harness.sim.prefixcache import BLOCK_TOKENS, PrefixCache, block_hashes
from harness.tokenizer import load_tokenizer

from common import MODEL, REPO, headless

PREFILL_TOKENS_PER_S = 8000.0
DECODE_MS = 12.0
PARSE_ALLOWANCE_S = 0.02


def test_a_later_turn_splices_the_answer_and_the_next_message_into_the_history() -> None:
    spec = options_from_argv(
        ["--model", "m", "--multi-turn", "--min-turns", "3", "--max-turns", "3", "--turn-prompt-length", "20"],
        "http://127.0.0.1:9",
    ).payload
    first = build_payloads(spec, "m", load_tokenizer(), 2, 1, 1)[0]
    assert first.turns == 3 and first.next_turn_tokens == (20, 20)
    second = next_turn(first, first.body, 'an "answer"\n', 2)
    third = next_turn(first, second.body, "another", 3)
    messages = json.loads(third.body)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[1]["content"] == 'an "answer"\n' and messages[3]["content"] == "another"
    assert messages[0] == json.loads(first.body)["messages"][0]  # the first turn's text and image, as sent
    assert json.loads(third.body)["max_tokens"] == json.loads(first.body)["max_tokens"]


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--multi-turn", "--min-turns", "0"], "--min-turns"),
        (["--multi-turn", "--min-turns", "4", "--max-turns", "2"], "--max-turns"),
        (["--multi-turn", "--think-time", "-1"], "--think-time"),
        (["--max-turns", "3"], "--max-turns"),  # no effect without --multi-turn
    ],
)
def test_bad_conversation_flags_name_the_flag(argv: list[str], flag: str) -> None:
    with pytest.raises(BadOption) as refused:
        options_from_argv(["--model", "m", *argv], "http://127.0.0.1:9")
    assert refused.value.flag == flag


def test_the_cache_reuses_leading_blocks_and_computes_at_least_the_last_token() -> None:
    cache = PrefixCache(capacity_blocks=8)
    first = block_hashes([list(range(40))], [[]])  # 2 full blocks
    assert len(first) == 2 and cache.cached_tokens(first, 40) == 0
    cache.insert(first)
    longer = block_hashes([list(range(40)), list(range(100, 130))], [[], [("img", 10)]])
    assert cache.cached_tokens(longer, 80) == 2 * BLOCK_TOKENS
    assert cache.cached_tokens(first, 32) == BLOCK_TOKENS  # the whole prompt cached: its last token is computed
    other_image = block_hashes([list(range(40)), list(range(100, 130))], [[], [("img2", 10)]])
    assert other_image[:4] == longer[:4] and other_image[4:] != longer[4:]  # media change the blocks they are in
    cache.insert(block_hashes([list(range(1000, 1200))], [[]]))  # 12 blocks through a pool of 8
    assert cache.cached_tokens(first, 40) == 0  # least recently used, evicted


def test_conversations_resend_the_servers_answers_and_later_turns_find_them_cached(tmp_path: Path) -> None:
    sim = start_sim(
        ["--model", MODEL, "--enable-prompt-tokens-details", "--prefill-tokens-per-s", str(PREFILL_TOKENS_PER_S)],
        ground_truth=str(tmp_path / "gt.jsonl"),
    )
    try:
        result = run_locust(
            headless(
                sim.base_url,
                tmp_path / "r",
                "--parallel",
                "1",
                "--number",
                "12",
                "--multi-turn",
                "--min-turns",
                "3",
                "--max-turns",
                "3",
                "--turn-prompt-length",
                "64",
                "--image-num",
                "0",
                "--min-prompt-length",
                "2048",
                "--max-prompt-length",
                "2048",
                "--max-tokens",
                "16",
            )
        )
        truth = {row["request_id"]: row for row in sim.ground_truth_records()}
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    records = [r for r in read_records(str(tmp_path / "r" / "requests.jsonl")) if not r.warmup]
    assert len(records) == 12 and {r.status for r in records} == {"ok"}
    conversations: dict[str, list] = defaultdict(list)
    for record in records:
        conversations[str(record.conversation)].append(record)
    assert len(conversations) == 4
    for turns in conversations.values():
        turns.sort(key=lambda r: r.turn)
        assert [r.turn for r in turns] == [1, 2, 3] and len({(r.worker, r.user) for r in turns}) == 1
        seen = [truth[r.request_id] for r in turns]
        for turn in (1, 2):  # each later turn: the earlier messages as they were, then the server's answer
            earlier, later = seen[turn - 1], seen[turn]
            assert later["messages"][: len(earlier["messages"])] == earlier["messages"]
            assert later["messages"][len(earlier["messages"])] == ["assistant", earlier["answer_digest"]]
    by_turn: dict[int, list[float]] = defaultdict(list)
    for record in records:
        seen = truth[record.request_id]
        assert (record.cached_tokens or 0) == seen["cached_tokens"]  # vLLM leaves out a 0
        # alone on the server, the first token comes one engine step after arrival: decode plus the prefill
        # of the tokens not found cached (plus the parse, a few ms on this machine)
        predicted_s = DECODE_MS / 1000 + (seen["prompt_tokens"] - seen["cached_tokens"]) / PREFILL_TOKENS_PER_S
        assert predicted_s - 0.002 <= record.ttft_s <= predicted_s + PARSE_ALLOWANCE_S
        by_turn[record.turn].append(record.ttft_s)
    assert all(truth[r.request_id]["cached_tokens"] >= 2048 - 2 * BLOCK_TOKENS for r in records if r.turn > 1)
    assert max(by_turn[2] + by_turn[3]) < min(by_turn[1]) / 3  # the history came from the cache
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    stage = summary["stages"][0]
    assert stage["turns"]["first"]["sent"] == 4 and stage["turns"]["later"]["sent"] == 8
    cached = sum(truth[r.request_id]["cached_tokens"] for r in records)
    assert stage["cache"]["cached_tokens"] == cached and stage["cache"]["reported_by"] == 8
    assert "later turns 8" in result.stdout and "prompt cache:" in result.stdout


def test_conversations_and_prefix_groups_across_two_processes_replay_exactly(tmp_path: Path) -> None:
    """Distributed (--processes 2): conversations stay on their worker's user, a group's prefix is the same in
    both workers (its later requests hit the cache whichever worker sends them), and the kept bodies of both
    workers replay."""
    sim = start_sim(
        ["--model", MODEL, "--enable-prompt-tokens-details", "--fixed", "10", "2"],
        ground_truth=str(tmp_path / "gt.jsonl"),
    )
    try:
        flags = [
            "--parallel",
            "4",
            "--number",
            "24",
            "--multi-turn",
            "--min-turns",
            "2",
            "--max-turns",
            "3",
            "--prefix-length",
            "256",
            "--prefix-groups",
            "2",
            "--image-num",
            "0",
            "--min-prompt-length",
            "64",
            "--max-prompt-length",
            "64",
            "--max-tokens",
            "8",
            "--keep-bodies",
        ]
        result = run_locust(["--processes", "2", *headless(sim.base_url, tmp_path / "r", *flags)])
        truth = {row["request_id"]: row for row in sim.ground_truth_records()}
        replayed = subprocess.run(
            [
                sys.executable,
                "-m",
                "harness.cli",
                "replay",
                str(tmp_path / "r"),
                "--host",
                sim.base_url,
                "--report-dir",
                str(tmp_path / "b"),
                "--metrics-port",
                "0",
                "--sleep-interval",
                "0",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO,
        )
        replay_truth = [row for row in sim.ground_truth_records() if row["request_id"] not in truth]
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    records = [r for r in read_records(str(tmp_path / "r" / "requests.jsonl")) if not r.warmup]
    assert len(records) == 24 and {r.worker for r in records} == {0, 1} and {r.status for r in records} == {"ok"}
    for conversation in {r.conversation for r in records}:
        turns = sorted((r for r in records if r.conversation == conversation), key=lambda r: r.turn)
        assert len({(r.worker, r.user) for r in turns}) == 1
        for earlier, later in zip(turns, turns[1:], strict=False):
            seen_earlier, seen_later = truth[earlier.request_id], truth[later.request_id]
            assert seen_later["messages"][len(seen_earlier["messages"])] == ["assistant", seen_earlier["answer_digest"]]
    first_of_group: dict[int | None, float] = {}  # when each group's prefix was first computed (its first token)
    for record in sorted(records, key=lambda r: r.t_send):
        first_of_group.setdefault(record.prefix_group, record.t_send + (record.ttft_s or 0.0))
    later = [r for r in records if r.turn == 1 and r.t_send > first_of_group[r.prefix_group] + 0.01]
    hits = [truth[r.request_id]["cached_tokens"] for r in later]
    assert len({r.worker for r in later}) == 2 and min(hits) >= 256 - BLOCK_TOKENS  # either worker's, cached
    assert replayed.returncode == 0, replayed.stderr[-2000:]
    assert Counter(row["body_digest"] for row in replay_truth) == Counter(
        truth[r.request_id]["body_digest"] for r in records
    )
