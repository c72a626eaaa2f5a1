"""The master's live metrics: a histogram fed in bulk exposes exactly what one observe() per value does."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from harness.buckets import CLIENT_TPOT_BUCKETS_S
from harness.master.bulkhistogram import BulkHistogram


def samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, sample.labels.get("le", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_observe_many_equals_observe_one_by_one_on_every_bucket_edge() -> None:
    rng = np.random.default_rng(3)
    values = [
        *CLIENT_TPOT_BUCKETS_S,
        0.0,
        1e9,
        *(np.nextafter(b, 1.0) for b in CLIENT_TPOT_BUCKETS_S),
        *rng.exponential(0.03, 5000).tolist(),
    ]
    one_by_one, bulk = CollectorRegistry(), CollectorRegistry()
    by_one = Histogram("itl", "gaps", buckets=CLIENT_TPOT_BUCKETS_S, registry=one_by_one)
    for value in values:
        by_one.observe(value)
    many = BulkHistogram("itl", "gaps", [], CLIENT_TPOT_BUCKETS_S, bulk)
    many.observe_many((), values[:100])
    many.observe_many((), values[100:])
    expected, got = samples(one_by_one), samples(bulk)
    assert {key: value for key, value in got.items() if key[0] != "itl_sum"} == {
        key: value for key, value in expected.items() if key[0] != "itl_sum"
    }
    assert got[("itl_sum", "")] == pytest.approx(expected[("itl_sum", "")], rel=1e-12)
