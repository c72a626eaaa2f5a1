"""Comparison verdicts (harness/report/verdicts.py) on numbers drawn here: requests, and runs that differ."""

from __future__ import annotations

import numpy as np

from harness.records import RequestRecord
from harness.report.verdicts import FASTER, SAME, SLOWER, compare, compare_runs, planned_stages, stage_verdicts


def _runs(rng: np.random.Generator, centres_ms: list[float], per_run: int = 200) -> list[np.ndarray]:
    """Runs whose requests cluster tightly (sd 1 %) around each run's own centre."""
    return [rng.normal(centre, centre * 0.01, per_run) for centre in centres_ms]


def test_requests_alone_see_a_difference_that_runs_show_is_only_run_to_run_spread() -> None:
    rng = np.random.default_rng(7)
    # both builds' runs scatter by about 10 % around the same 100 ms; B's runs happen to sit 3 % higher
    base = _runs(rng, [92.0, 100.0, 108.0])
    other = _runs(rng, [95.0, 103.0, 111.0])
    by_requests = compare(np.concatenate(base), np.concatenate(other), 50, "p50")
    by_runs = compare_runs(base, other, 50, "p50")
    assert by_requests.verdict == SLOWER  # 600 tight requests a side: the 3 % looks certain
    assert by_runs.verdict == SAME and by_runs.runs == (3, 3)  # three runs a side cannot tell 3 % from chance
    assert by_runs.high - by_runs.low > 3 * (by_requests.high - by_requests.low)
    assert "over 3 and 3 runs" in by_runs.shown() and by_runs.to_dict()["basis"] == "runs"


def test_runs_that_differ_by_more_than_their_spread_decide() -> None:
    rng = np.random.default_rng(8)
    base = _runs(rng, [99.0, 100.0, 101.0, 100.5])
    faster = _runs(rng, [79.0, 80.0, 81.0, 80.5])
    verdict = compare_runs(base, faster, 90, "p90")
    assert verdict.verdict == FASTER and verdict.low <= 0.80 <= verdict.high


def test_stages_pair_by_plan_and_use_runs_only_when_both_sides_repeated() -> None:
    def records(stages: int, offset_s: float) -> list[RequestRecord]:
        made = []
        for stage in range(stages):
            for index in range(40):
                made.append(RequestRecord(f"r{stage}-{index}", stage, 0, 0, 0.0, 0, ttft_s=offset_s + index * 1e-3))
        return made

    repeated = {"stages": [{}] * 4, "repeated": [{"runs": [1, 2]}, {"runs": [3, 4]}]}
    plain = {"stages": [{}] * 2}
    assert planned_stages(repeated) == [[0, 1], [2, 3]] and planned_stages(plain) == [[0], [1]]
    both = stage_verdicts((repeated, records(4, 0.1)), (repeated, records(4, 0.1)))
    one = stage_verdicts((plain, records(2, 0.1)), (repeated, records(4, 0.1)))
    assert len(both) == len(one) == 2
    assert both[0][0].runs == (2, 2) and both[0][0].verdict == SAME
    assert one[0][0].runs is None and one[0][0].ratio == 1.0  # pooled requests of B's two runs against A's one


def test_a_run_without_successes_leaves_the_others_to_decide() -> None:
    rng = np.random.default_rng(9)
    base = [*_runs(rng, [100.0, 101.0]), np.array([])]
    verdict = compare_runs(base, _runs(rng, [100.0, 100.5, 101.0]), 50, "p50")
    assert verdict.verdict == SAME and verdict.low is not None
