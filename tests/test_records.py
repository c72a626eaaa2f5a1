"""Per-request derived metrics and the JSONL record contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.jsonl import JsonlWriter, read_jsonl
from harness.records import RequestRecord, inter_token_latencies_s, read_records, time_per_output_token_s

# requests.jsonl fields promised in the README (DESIGN.md's list, plus duration/status/finish).
CONTRACT_FIELDS = {
    "request_id",
    "stage",
    "worker",
    "user",
    "t_send",
    "ttfb_s",
    "ttft_s",
    "ttfot_s",
    "latency_s",
    "tpot_s",
    "itl_s",
    "tokens_per_event",
    "prompt_tokens",
    "expected_text_tokens",
    "multimodal_tokens",
    "completion_tokens",
    "tokens_source",
    "status",
    "error",
}


def test_tpot_divides_by_tokens_not_events() -> None:
    assert time_per_output_token_s(latency_s=1.1, ttft_s=0.1, completion_tokens=101) == pytest.approx(0.01)
    assert time_per_output_token_s(latency_s=1.0, ttft_s=0.1, completion_tokens=1) is None


def test_itl_is_gaps_between_output_events() -> None:
    assert inter_token_latencies_s([1.0, 1.5, 1.75]) == pytest.approx([0.5, 0.25])
    assert inter_token_latencies_s([1.0]) == []


def test_first_failure_is_kept() -> None:
    record = RequestRecord("r", 0, 0, 0, 1.0, 10)
    record.fail("http_500", "boom")
    record.fail("stream_truncated", "later")
    assert (record.status, record.error) == ("error", {"reason": "http_500", "message": "boom"})


def test_jsonl_line_per_record_with_the_contract_fields(tmp_path: Path) -> None:
    path = str(tmp_path / "requests.jsonl")
    writer = JsonlWriter(path)
    writer.write(RequestRecord("a", 0, 1, 2, 1.0, 10, itl_s=[0.01]).to_dict())
    # flushed per record: readable before close
    assert json.loads(Path(path).read_text().splitlines()[0])["request_id"] == "a"
    failed = RequestRecord("b", 0, 1, 3, 2.0, 10)
    failed.fail("timeout", "no byte for 600 s")
    writer.write(failed.to_dict())
    writer.close()
    assert CONTRACT_FIELDS <= set(read_jsonl(path)[0])
    records = read_records(path)  # typed again, as the master keeps them
    assert [r.request_id for r in records] == ["a", "b"]
    assert records[0].itl_s == [0.01] and records[1].error == {"reason": "timeout", "message": "no byte for 600 s"}
    assert records[1] == failed
