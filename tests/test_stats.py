"""Stage statistics with hand-computed numbers (nearest-rank percentiles, evalscope's rates)."""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np
import pytest

from harness.master.stats import StageAccumulator, distribution, percentile
from harness.records import RequestRecord


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
    empty = distribution([])
    assert empty.pop("n") == 0 and set(empty.values()) == {None}
    three = distribution([3.0, 1.0, 2.0])
    assert {key: three[key] for key in ("mean", "min", "p50", "p90", "p95", "p99", "max")} == {  # type: ignore[literal-required]
        "mean": 2.0,
        "min": 1.0,
        "p50": 2.0,
        "p90": 3.0,
        "p95": 3.0,
        "p99": 3.0,
        "max": 3.0,
    }
    assert three["n"] == 3 and three["std"] == 1.0
    assert three["few"] == ["p90", "p95", "p99"]  # with 3 values they are the maximum
    assert three["ci"]["p50"] == [None, None]  # 3 values bound no median at 95 %


def test_asked_percentiles_join_the_fixed_ones_with_intervals() -> None:
    values = [float(v) for v in range(1, 1001)]  # 1..1000
    figures: Any = distribution(reversed(values), (75.0, 99.9))
    assert (figures["p75"], figures["p99.9"], figures["p50"], figures["p95"]) == (750.0, 999.0, 500.0, 950.0)
    assert figures["ci"]["p99.9"][1] is None  # no value ranks far enough above 999 to bound it at 95 %
    assert figures["ci"]["p75"][0] < 750.0 < figures["ci"]["p75"][1]
    assert figures["few"] == [] and distribution(values[:500], (99.9,))["few"] == ["p99.9"]
    empty: Any = distribution([], (75.0,))
    assert empty["p75"] is None and empty["std"] is None


def test_nearest_rank_is_not_moved_by_floating_point() -> None:
    # 1.1 * 3000 / 100 is 33.000000000000004 in floating point: still rank 33
    assert percentile([float(v) for v in range(1, 3001)], 1.1) == 33.0


def test_a_stage_keeps_its_percentile_set_for_its_tables() -> None:
    from harness.report.columns import CONSOLE, CSV, columns_for

    stage = StageAccumulator(4, 10, percentiles=(75.0, 99.9))
    stage.add(record(100.0, 0.5, ttft_s=0.1, tpot_s=0.01, latency_s=0.5, itl_s=[0.01], completion_tokens=10))
    summary = stage.summary()
    assert summary["percentiles"] == [75.0, 99.9] and summary["ttft_s"]["p99.9"] == 0.1  # type: ignore[typeddict-item]
    csv = {column.name: column for column in columns_for(CSV, [summary])}
    assert {"p75_ttft_s", "p99.9_ttft_s", "std_ttft_s", "p75_itl_s", "p99.9_latency_s"} <= set(csv)
    assert "p99_ttft_s" not in csv and "p50_latency_s" not in csv
    assert csv["p99.9_ttft_s"].bounds and csv["p99.9_ttft_s"].value(summary) == 0.1
    titles = [column.title for column in columns_for(CONSOLE, [summary])]
    assert {"P75 TTFT(ms)", "P99.9 TTFT(ms)", "P75 TPOT(ms)", "P99.9 Lat.(s)"} <= set(titles)
    default = [column.title for column in columns_for(CONSOLE, [StageAccumulator().summary()])]
    assert {"P50 TTFT(ms)", "P90 TTFT(ms)", "P99 TTFT(ms)"} <= set(default) and "P75 TTFT(ms)" not in default


def test_percentile_intervals_cover_as_asked_and_say_when_they_cannot() -> None:
    rng = np.random.default_rng(3)
    covered = {50: 0, 90: 0}
    trials = 2000
    for _ in range(trials):
        values = rng.lognormal(0, 0.5, 100)
        summary = distribution(values.tolist())
        for p in covered:
            low, high = summary["ci"][f"p{p}"]
            truth = float(np.exp(0.5 * NormalDist().inv_cdf(p / 100)))
            covered[p] += low is not None and high is not None and low <= truth <= high
    assert all(0.93 <= count / trials <= 0.985 for count in covered.values()), covered
    hundred = distribution(rng.random(100).tolist())
    assert hundred["few"] == [] and hundred["ci"]["p99"][1] is None  # a p99 of 100 values has no upper bound
    assert distribution(rng.random(99).tolist())["few"] == ["p99"]


def record(t_send: float, duration_s: float, ok: bool = True, **fields: Any) -> RequestRecord:
    made = RequestRecord("r", 0, 0, 0, t_send, 0, duration_s=duration_s, **fields)
    if not ok:
        made.fail("http_503", "m")
    return made


def test_stage_summary_rates_and_errors() -> None:
    stage = StageAccumulator(parallel=2, number=3)
    stage.add(
        record(
            100.0,
            2.0,
            ttft_s=0.1,
            tpot_s=0.01,
            latency_s=2.0,
            itl_s=[0.01, 0.02],
            prompt_tokens=100,
            completion_tokens=10,
        )
    )
    stage.add(
        record(
            100.5, 3.5, ttft_s=0.3, tpot_s=0.03, latency_s=3.5, itl_s=[0.03], prompt_tokens=100, completion_tokens=30
        )
    )
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


def vllm_good_completed(outputs: list[dict[str, float]], slos_ms: dict[str, float]) -> int:
    """vLLM's goodput count, as vllm/benchmarks/serve.py calculate_metrics computes it over successful outputs."""
    ttfts, all_tpots, e2els = [], [], []
    for output in outputs:
        tpot = 0.0  # "if output_len <= 1, we regard tpot as 0 for goodput"
        if output["output_len"] > 1:
            tpot = (output["latency"] - output["ttft"]) / (output["output_len"] - 1)
        all_tpots.append(tpot)
        ttfts.append(output["ttft"])
        e2els.append(output["latency"])
    valid_metrics, slo_values = [], []
    for name, values in (("ttft", ttfts), ("tpot", all_tpots), ("e2el", e2els)):
        if name in slos_ms:
            valid_metrics.append(values)
            slo_values.append(slos_ms[name] / 1000)
    return sum(
        all(s >= r for s, r in zip(slo_values, metric, strict=False)) for metric in zip(*valid_metrics, strict=False)
    )


def test_goodput_equals_vllms_with_one_token_outputs() -> None:
    outputs = [
        {"ttft": 0.1, "latency": 0.1, "output_len": 1},
        {"ttft": 0.1, "latency": 0.5, "output_len": 1},
        {"ttft": 0.1, "latency": 0.6, "output_len": 6},
        {"ttft": 0.1, "latency": 0.2, "output_len": 3},
        {"ttft": 0.3, "latency": 0.3, "output_len": 1},
    ]
    for slos_ms in ({"tpot": 60}, {"tpot": 60, "ttft": 200}, {"tpot": 60, "e2el": 400}, {"ttft": 200}):
        stage = StageAccumulator(
            1,
            len(outputs),
            {
                {"ttft": "ttft_s", "tpot": "tpot_s", "e2el": "latency_s"}[name]: ms / 1000
                for name, ms in slos_ms.items()
            },
        )
        for output in outputs:
            tpot_s = (
                (output["latency"] - output["ttft"]) / (output["output_len"] - 1) if output["output_len"] > 1 else None
            )
            stage.add(
                record(
                    100.0,
                    output["latency"],
                    ttft_s=output["ttft"],
                    latency_s=output["latency"],
                    tpot_s=tpot_s,
                    completion_tokens=int(output["output_len"]),
                )
            )
        assert stage.summary()["good_requests"] == vllm_good_completed(outputs, slos_ms), slos_ms


def test_goodput_flag_uses_vllms_syntax() -> None:
    from harness.argparsing import BadOption
    from harness.options import goodput_slos

    assert goodput_slos(["ttft:200", "tpot:50", "e2el:3000"]) == {"ttft_s": 0.2, "tpot_s": 0.05, "latency_s": 3.0}
    assert goodput_slos(["ttfa:300", "rtf:0.8"]) == {"ttfa_s": 0.3, "audio_rtf": 0.8}  # a real-time factor as it is
    for bad in (["itl:5"], ["ttft"], ["ttft:-1"], ["ttft:x"], ["rtf:0"]):
        with pytest.raises(BadOption, match="^--goodput: "):
            goodput_slos(bad)


def test_token_throughput_intervals_cover_the_true_rate() -> None:
    """Requests arriving as a Poisson process at 20/s for 10 s, each with 50..150 output tokens: the interval
    of tokens per second holds the true 20 x 100 in about 95 % of 400 stages."""
    from harness.intervals import token_rate_interval

    rng = np.random.default_rng(11)
    held = 0
    for _ in range(400):
        count = int(rng.poisson(200))
        low, high = token_rate_interval(count, 10.0, rng.integers(50, 151, count).astype(float).tolist())
        held += low is not None and high is not None and low <= 2000.0 <= high
    assert 0.91 * 400 <= held <= 0.99 * 400, held
    assert token_rate_interval(0, 10.0, []) == (None, None)
    summary = StageAccumulator(1, 2)
    summary.add(record(0.0, 1.0, ttft_s=0.1, prompt_tokens=10, completion_tokens=20))
    summary.add(record(1.0, 1.0, ttft_s=0.1, prompt_tokens=10, completion_tokens=20))
    figures = summary.summary()
    low, high = figures["output_tokens_per_s_ci"]
    assert low < figures["output_tokens_per_s"] == 20.0 < high  # 40 tokens over 2 s


def test_a_request_without_audio_misses_a_speech_slo() -> None:
    from harness.master.stats import meets_slos

    spoken = record(0.0, 1.0, ttft_s=0.1, ttfa_s=0.25, audio_rtf=0.5)
    assert meets_slos(spoken, {"ttfa_s": 0.3, "audio_rtf": 0.8})
    assert not meets_slos(spoken, {"ttfa_s": 0.2}) and not meets_slos(record(0.0, 1.0, ttft_s=0.1), {"ttfa_s": 1.0})
