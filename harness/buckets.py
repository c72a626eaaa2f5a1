"""Histogram bucket boundaries (seconds), shared by the simulator and omniload's own metrics.

The vLLM lists are copied from vLLM's Prometheus stat logger
(`vllm/v1/metrics/loggers.py`) so that `histogram_quantile` over client-side and
server-side histograms compares like with like.
"""

from __future__ import annotations

VLLM_TTFT_BUCKETS_S: tuple[float, ...] = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
    640.0,
    2560.0,
)

# vllm:inter_token_latency_seconds and vllm:request_time_per_output_token_seconds.
VLLM_TPOT_BUCKETS_S: tuple[float, ...] = (
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
)

# vllm:e2e_request_latency_seconds and vllm:request_queue_time_seconds.
VLLM_REQUEST_LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.3,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    40.0,
    50.0,
    60.0,
    120.0,
    240.0,
    480.0,
    960.0,
    1920.0,
    7680.0,
)


def with_finer_low(vllm_buckets_s: tuple[float, ...], finer_s: tuple[float, ...]) -> tuple[float, ...]:
    """vLLM's boundaries plus finer ones at the low end (every vLLM boundary kept)."""
    return tuple(sorted(set(vllm_buckets_s) | set(finer_s)))


# omniload's client-side histograms: vLLM's boundaries, so client and server quantiles
# come from the same buckets, plus finer low ones where a fast server's values fall.
CLIENT_TTFT_BUCKETS_S = with_finer_low(VLLM_TTFT_BUCKETS_S, (0.0025, 0.0075, 0.015, 0.03, 0.05, 0.15, 0.2, 0.35))
CLIENT_TPOT_BUCKETS_S = with_finer_low(
    VLLM_TPOT_BUCKETS_S, (0.001, 0.0025, 0.005, 0.0075, 0.0125, 0.015, 0.02, 0.03, 0.04)
)
CLIENT_LATENCY_BUCKETS_S = with_finer_low(VLLM_REQUEST_LATENCY_BUCKETS_S, (0.01, 0.025, 0.05, 0.1, 0.2))

# --audio-output: time to first audio on vLLM's TTFT buckets (so the two compare like with like), and the
# real-time factor around 1 (below: the server speaks faster than a listener hears).
CLIENT_TTFA_BUCKETS_S: tuple[float, ...] = CLIENT_TTFT_BUCKETS_S
AUDIO_RTF_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)
