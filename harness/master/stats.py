"""Stage statistics from request records: pure arithmetic, evalscope perf's definitions.

Percentiles are nearest-rank (index ceil(p*n/100) - 1 of the sorted values). Wall time
is the last end minus the first send over all of the stage's requests; rates divide
successes and their tokens by it; distributions cover successful requests.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, cast

import numpy as np

from harness.intervals import (
    Z_95,
    count_rate_interval,
    estimable,
    nearest_rank,
    quantile_interval,
    token_rate_interval,
    wilson_interval,
)
from harness.records import RequestRecord
from harness.results import (
    DEFAULT_PERCENTILES,
    FIXED_PERCENTILES,
    LATE_P99_LIMIT_S,
    CacheSummary,
    Distribution,
    MediaSummary,
    SliceSummary,
    SpeechSummary,
    StageSummary,
    percentile_key,
)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    return sorted_values[nearest_rank(len(sorted_values), p) - 1]


def distribution(values: Iterable[float], percentiles: Sequence[float] = DEFAULT_PERCENTILES) -> Distribution:
    """mean, std, min, p50/90/95/99, the other `percentiles` asked for and max, with their 95 % intervals and
    which percentiles are too few to tell (harness/intervals.py); all None for no values."""
    ordered = sorted(values)
    shown = sorted({*FIXED_PERCENTILES, *percentiles})
    if not ordered:
        empty = Distribution(mean=None, min=None, p50=None, p90=None, p95=None, p99=None, max=None, n=0, std=None)
        for p in shown:
            cast(dict[str, Any], empty)[percentile_key(p)] = None
        return empty
    n = len(ordered)
    mean = math.fsum(ordered) / n
    std = float(np.std(np.asarray(ordered, dtype=np.float64), ddof=1)) if n > 1 else None
    result = Distribution(
        mean=mean,
        min=ordered[0],
        p50=percentile(ordered, 50),
        p90=percentile(ordered, 90),
        p95=percentile(ordered, 95),
        p99=percentile(ordered, 99),
        max=ordered[-1],
        n=n,
        std=std,
    )
    half = Z_95 * std / math.sqrt(n) if std is not None else None
    result["ci"] = {"mean": [mean - half, mean + half] if half is not None else [None, None]}
    for p in shown:
        cast(dict[str, Any], result)[percentile_key(p)] = percentile(ordered, p)
        result["ci"][percentile_key(p)] = list(quantile_interval(ordered, p))
    result["few"] = [percentile_key(p) for p in shown if not estimable(n, p)]
    return result


def meets_slos(record: RequestRecord, slos_s: dict[str, float]) -> bool:
    """A successful request whose every bounded metric is present and within its bound.

    As vLLM's goodput (vllm/benchmarks/serve.py, calculate_metrics: "if output_len <= 1,
    we regard tpot as 0 for goodput"): a request with at most one output token has no
    TPOT, and meets any TPOT bound.
    """
    for field, most_s in slos_s.items():
        value = getattr(record, field)
        if (
            value is None
            and field == "tpot_s"
            and record.completion_tokens is not None
            and record.completion_tokens <= 1
        ):
            value = 0.0
        if value is None or value > most_s:
            return False
    return record.status == "ok"


class StageAccumulator:
    """Collects one stage's records and summarizes them (the master, per stage).

    Keeps only the numbers it needs, in compact arrays, so long stages stay small.
    """

    def __init__(
        self,
        parallel: int | None = None,
        number: int | None = None,
        slos_s: dict[str, float] | None = None,
        rate_rps: float | None = None,
        open_loop: bool = False,
        by_class: bool = False,
        by_turn: bool = False,
        slice_s: float | None = None,
        percentiles: Sequence[float] = DEFAULT_PERCENTILES,
    ) -> None:
        """slos_s: goodput's bounds, record field -> most seconds (empty: no goodput); by_class: figures per
        request class too (--mix); percentiles: the set the stage's tables show (--percentiles)."""
        self.percentiles = tuple(percentiles)
        self.parallel = parallel
        self.number = number
        self.rate_rps = rate_rps
        self.open_loop = open_loop
        self.lateness_s: array[float] = array("d")
        self.slos_s = slos_s or {}
        self.good = 0  # successes that met every SLO
        self.sent = 0
        self.errors: Counter[str] = Counter()
        self.streams_without_done = 0
        self.first_send_s = math.inf
        self.last_end_s = -math.inf
        self.by_class = by_class
        self.classes: dict[str, StageAccumulator] = {}
        self.by_turn = by_turn
        self.slice_s = slice_s  # --slice: figures per window of this many seconds, by when requests ended
        self._ends_s: array[float] = array("d")
        self._end_ttfts_s: array[float] = array("d")  # nan: a failure
        self.turns: dict[str, StageAccumulator] = {}  # --multi-turn: "first" and "later" turns
        self.cached_tokens = 0
        self.cache_reports = 0  # successes whose usage said how many prompt tokens were cached
        self.request_bytes = 0
        self.images = 0
        self.audio_s = 0.0
        self.video_s = 0.0
        self._series: dict[str, array[float]] = {
            name: array("d")
            for name in (
                "ttft_s",
                "tpot_s",
                "itl_s",
                "latency_s",
                "prompt_tokens",
                "completion_tokens",
                "ttfa_s",
                "audio_rtf",
                "playback_start_s",
            )
        }
        self.audio_out_s = 0.0  # --audio-output: speech received by successes
        self.underrun_answers = 0
        self.underruns = 0
        self.underrun_s = 0.0

    def add(self, record: RequestRecord) -> None:
        if self.by_turn:
            self.turns.setdefault("first" if record.turn == 1 else "later", self._part()).add(record)
        if self.by_class:
            self.classes.setdefault(record.request_class, self._part()).add(record)
        if self.slice_s is not None:
            self._ends_s.append(record.t_send + (record.duration_s or 0.0))
            self._end_ttfts_s.append(record.ttft_s if record.error is None and record.ttft_s is not None else math.nan)
        if record.user >= 0:  # what was sent (a rejected request never was)
            self.request_bytes += record.request_bytes
            self.images += record.images
            self.audio_s += record.audio_s
            self.video_s += record.video_s
        self.sent += 1
        t_send = record.t_send
        self.first_send_s = min(self.first_send_s, t_send)
        self.last_end_s = max(self.last_end_s, t_send + (record.duration_s or 0.0))
        lateness_s = record.lateness_s
        if lateness_s is not None and record.user >= 0:  # sent (a rejected request never was)
            self.lateness_s.append(lateness_s)
        if record.error is not None:
            self.errors[record.error["reason"]] += 1
            return
        series = self._series
        for name, value in (
            ("ttft_s", record.ttft_s),
            ("tpot_s", record.tpot_s),
            ("latency_s", record.latency_s),
            ("prompt_tokens", record.prompt_tokens),
            ("completion_tokens", record.completion_tokens),
        ):
            if value is not None:
                series[name].append(value)
        series["itl_s"].extend(record.itl_s)
        if record.ttfa_s is not None:
            self._add_speech(record)
        if self.slos_s and meets_slos(record, self.slos_s):
            self.good += 1
        if record.cached_tokens is not None:
            self.cached_tokens += record.cached_tokens
            self.cache_reports += 1
        if record.done_marker is False:
            self.streams_without_done += 1

    def _add_speech(self, record: RequestRecord) -> None:
        series = self._series
        assert record.ttfa_s is not None
        series["ttfa_s"].append(record.ttfa_s)
        for name, value in (("audio_rtf", record.audio_rtf), ("playback_start_s", record.playback_start_s)):
            if value is not None:
                series[name].append(value)
        self.audio_out_s += record.audio_out_s or 0.0
        self.underrun_answers += record.underruns > 0
        self.underruns += record.underruns
        self.underrun_s += record.underrun_s

    def _speech(self, wall_s: float) -> SpeechSummary:
        answers = len(self._series["ttfa_s"])
        return SpeechSummary(
            answers=answers,
            audio_s=self.audio_out_s,
            audio_s_per_s=self.audio_out_s / wall_s if wall_s > 0 else 0.0,
            underrun_share=self.underrun_answers / answers,
            underrun_share_ci=list(wilson_interval(self.underrun_answers, answers)),
            underruns=self.underruns,
            underrun_s=self.underrun_s,
            playback_start_s=distribution(self._series["playback_start_s"], self.percentiles),
        )

    def _request_tokens(self) -> list[float]:
        """Each success's prompt plus completion tokens (as total tokens/s counts them)."""
        prompt, completion = self._series["prompt_tokens"], self._series["completion_tokens"]
        if len(prompt) != len(completion):  # a server that reported one and not the other: no interval
            return []
        return [a + b for a, b in zip(prompt, completion, strict=True)]

    def _part(self) -> StageAccumulator:
        """An accumulator for a part of the stage's requests (a class, first or later turns)."""
        return StageAccumulator(self.parallel, None, self.slos_s, percentiles=self.percentiles)

    def _slices(self, slice_s: float) -> list[SliceSummary]:
        """Per window of `slice_s` from the stage's first send, the requests that ended in it: successes per
        second, failures, TTFT p50 and p99 (nearest rank; None without successes)."""
        ends = np.frombuffer(self._ends_s, dtype=np.float64) - self.first_send_s
        ttfts = np.frombuffer(self._end_ttfts_s, dtype=np.float64)
        windows = np.floor(ends / slice_s).astype(np.int64)
        result = []
        for window in range(int(windows.max()) + 1):
            inside = ttfts[windows == window]
            ok = np.sort(inside[~np.isnan(inside)])
            result.append(
                SliceSummary(
                    start_s=window * slice_s,
                    ended=int(len(inside)),
                    rps=len(ok) / slice_s,
                    errors=int(np.isnan(inside).sum()),
                    ttft_p50_s=percentile(ok.tolist(), 50) if len(ok) else None,
                    ttft_p99_s=percentile(ok.tolist(), 99) if len(ok) else None,
                )
            )
        return result

    def progress(self, now_s: float) -> tuple[int, float, float | None]:
        """(sent so far, successes per second so far, p50 TTFT in s): cheap enough to call every second."""
        elapsed_s = now_s - self.first_send_s if self.sent else 0.0
        ttfts = self._series["ttft_s"]
        p50 = float(np.percentile(np.frombuffer(ttfts, dtype=np.float64), 50, method="inverted_cdf")) if ttfts else None
        return self.sent, self.succeeded / elapsed_s if elapsed_s > 0 else 0.0, p50

    @property
    def succeeded(self) -> int:
        return self.sent - sum(self.errors.values())

    def summary(self, wall_s: float | None = None) -> StageSummary:
        """The stage's figures; `wall_s`: a class's, over its stage's wall time (so class rates add up)."""
        if wall_s is None:
            wall_s = max(0.0, self.last_end_s - self.first_send_s) if self.sent else 0.0
        completion = math.fsum(self._series["completion_tokens"])
        prompt = math.fsum(self._series["prompt_tokens"])

        def rate(amount: float) -> float:
            return amount / wall_s if wall_s > 0 else 0.0

        summary = StageSummary(
            parallel=self.parallel,
            number=self.number,
            sent=self.sent,
            succeeded=self.succeeded,
            failed=self.sent - self.succeeded,
            wall_time_s=wall_s,
            rps=rate(self.succeeded),
            output_tokens_per_s=rate(completion),
            total_tokens_per_s=rate(prompt + completion),
            success_rate=self.succeeded / self.sent if self.sent else 0.0,
            success_rate_ci=list(wilson_interval(self.succeeded, self.sent)),
            rps_ci=list(count_rate_interval(self.succeeded, wall_s)),
            output_tokens_per_s_ci=list(token_rate_interval(self.succeeded, wall_s, self._series["completion_tokens"])),
            total_tokens_per_s_ci=list(token_rate_interval(self.succeeded, wall_s, self._request_tokens())),
            ttft_s=distribution(self._series["ttft_s"], self.percentiles),
            tpot_s=distribution(self._series["tpot_s"], self.percentiles),
            itl_s=distribution(self._series["itl_s"], self.percentiles),
            latency_s=distribution(self._series["latency_s"], self.percentiles),
            prompt_tokens=distribution(self._series["prompt_tokens"]),
            completion_tokens=distribution(self._series["completion_tokens"]),
            errors=dict(self.errors),
            streams_without_done=self.streams_without_done,
            goodput_rps=rate(self.good) if self.slos_s else None,
            good_requests=self.good if self.slos_s else None,
        )
        if self.percentiles != DEFAULT_PERCENTILES:
            summary["percentiles"] = list(self.percentiles)
        if self._series["ttfa_s"]:
            summary["ttfa_s"] = distribution(self._series["ttfa_s"], self.percentiles)
            summary["audio_rtf"] = distribution(self._series["audio_rtf"], self.percentiles)
            summary["speech"] = self._speech(wall_s)
        if self.request_bytes:
            summary["media"] = MediaSummary(
                request_bytes_mean=self.request_bytes / self.sent,
                request_bytes_per_s=rate(self.request_bytes),
                images_per_s=rate(self.images),
                audio_s_per_s=rate(self.audio_s),
                video_s_per_s=rate(self.video_s),
            )
        if self.slice_s is not None and self.sent:
            summary["slices"] = self._slices(self.slice_s)
        if self.classes:
            summary["classes"] = {name: self.classes[name].summary(wall_s) for name in sorted(self.classes)}
        if self.turns:
            summary["turns"] = {
                name: self.turns[name].summary(wall_s) for name in ("first", "later") if name in self.turns
            }
        if self.cache_reports:
            summary["cache"] = CacheSummary(
                cached_tokens=self.cached_tokens,
                prompt_tokens=int(prompt),
                cached_share=self.cached_tokens / prompt if prompt else 0.0,
                reported_by=self.cache_reports,
            )
        if self.rate_rps is not None:
            lateness = distribution(self.lateness_s)
            summary["rate_rps"] = self.rate_rps
            summary["open_loop"] = self.open_loop
            summary["lateness_s"] = lateness
            summary["generator_late"] = (lateness["p99"] or 0.0) > LATE_P99_LIMIT_S
        return summary
