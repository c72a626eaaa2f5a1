"""Stage statistics with hand-computed numbers (nearest-rank percentiles, evalscope's rates)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.records import RequestRecord
from harness.master.stats import StageAccumulator, distribution, percentile


def test_nearest_rank_percentile() -> None:
    values = [float(v) for v in range(1, 11)]  # 1..10
    assert percentile(values, 50) == 5.0  # ceil(5.0) - 1 = index 4
    assert percentile(values, 90) == 9.0
    assert percentile(values, 95) == 10.0  # ceil(9.5) - 1 = index 9
    assert percentile(values, 99) == 10.0
    assert percentile([7.0], 50) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_distribution_of_nothing_is_all_none() -> None:
    assert set(distribution([]).values()) == {None}
    assert distribution([3.0, 1.0, 2.0]) == {"mean": 2.0, "min": 1.0, "p50": 2.0, "p90": 3.0, "p95": 3.0,
                                             "p99": 3.0, "max": 3.0}  # fmt: skip


def record(t_send: float, duration_s: float, ok: bool = True, **fields: Any) -> RequestRecord:
    made = RequestRecord("r", 0, 0, 0, t_send, 0, duration_s=duration_s, **fields)
    if not ok:
        made.fail("http_503", "m")
    return made


def test_stage_summary_rates_and_errors() -> None:
    stage = StageAccumulator(parallel=2, number=3)
    stage.add(record(100.0, 2.0, ttft_s=0.1, tpot_s=0.01, latency_s=2.0, itl_s=[0.01, 0.02],
                     prompt_tokens=100, completion_tokens=10))  # fmt: skip
    stage.add(record(100.5, 3.5, ttft_s=0.3, tpot_s=0.03, latency_s=3.5, itl_s=[0.03],
                     prompt_tokens=100, completion_tokens=30))  # fmt: skip
    stage.add(record(101.0, 0.5, ok=False))
    summary = stage.summary()
    assert (summary["sent"], summary["succeeded"], summary["failed"]) == (3, 2, 1)
    assert summary["wall_time_s"] == pytest.approx(4.0)  # last end 104.0 - first send 100.0
    assert summary["rps"] == pytest.approx(2 / 4.0)
    assert summary["output_tokens_per_s"] == pytest.approx(40 / 4.0)
    assert summary["total_tokens_per_s"] == pytest.approx(240 / 4.0)
    assert summary["success_rate"] == pytest.approx(2 / 3)
    assert summary["ttft_s"]["mean"] == pytest.approx(0.2)
    assert summary["itl_s"]["max"] == pytest.approx(0.03)
    assert summary["itl_s"]["p50"] == pytest.approx(0.02)
    assert summary["errors"] == {"http_503": 1}
    assert (summary["parallel"], summary["number"]) == (2, 3)


def test_goodput_counts_successes_within_every_slo() -> None:
    slos = {"ttft_s": 0.2, "latency_s": 3.0}
    stage = StageAccumulator(4, 4, slos)
    stage.add(record(100.0, 2.0, ttft_s=0.1, latency_s=2.0))  # good
    stage.add(record(100.0, 2.0, ttft_s=0.3, latency_s=2.0))  # TTFT too slow
    stage.add(record(100.0, 4.0, ttft_s=0.1, latency_s=4.0))  # E2E too slow
    stage.add(record(100.0, 1.0, ok=False, ttft_s=0.1, latency_s=1.0))  # failed
    summary = stage.summary()
    assert summary["good_requests"] == 1 and summary["goodput_rps"] == 1 / 4.0  # wall: 100.0 -> 104.0
    assert StageAccumulator(4, 4).summary()["goodput_rps"] is None


def test_goodput_flag_uses_vllms_syntax() -> None:
    from harness.argparsing import BadOption
    from harness.options import goodput_slos

    assert goodput_slos(["ttft:200", "tpot:50", "e2el:3000"]) == {"ttft_s": 0.2, "tpot_s": 0.05, "latency_s": 3.0}
    for bad in (["itl:5"], ["ttft"], ["ttft:-1"], ["ttft:x"]):
        with pytest.raises(BadOption, match="^--goodput: "):
            goodput_slos(bad)
