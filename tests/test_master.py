"""The master and load generators in-process, over a fake RPC (no Locust processes).

What crosses between them is only harness/wire.py's messages; these tests drive a
sweep stage by stage and check the budget, the records, the summary and lost workers.
"""

from __future__ import annotations

import gevent

import json
from pathlib import Path

import pytest

from harness import wire
from harness.devtools.fakerunner import FakeClient, FakeCluster, fake_environment
from harness.load.generator import LoadGenerator
from harness.master.master import Master
from harness.options import LoadOptions
from harness.records import read_records
from harness.report.runend import write_run

from loadopts import options_from

SMALL = [
    "--image-num",
    "0",
    "--min-prompt-length",
    "16",
    "--max-prompt-length",
    "16",
    "--max-tokens",
    "4",
    "--sleep-interval",
    "0",
]


def sweep_options(tmp_path: Path, *flags: str) -> LoadOptions:
    return options_from(["--model", "m", *SMALL, "--report-dir", str(tmp_path), *flags])


class Cluster:
    """A master and two workers over the fake RPC, each worker with a prepared LoadGenerator."""

    def __init__(self, options: LoadOptions) -> None:
        self.fake = FakeCluster()
        self.master = Master(fake_environment(self.fake.master), options)
        self.generators = {}
        for index in range(2):
            runner = self.fake.add_worker(f"w{index}")
            generator = LoadGenerator(fake_environment(runner), options, worker_index=index)
            generator.prepare()
            self.generators[f"w{index}"] = generator

    def users(self, count: int) -> None:
        self.fake.master.user_count = count

    def start_first_stage(self, users: int) -> Master:
        """Tick until the first stage's budget is open (its users all up); returns the master."""
        self.master.tick()
        self.users(users)
        self.master.tick()
        assert self.master.sweep.running
        return self.master

    def send_one(self, worker: str, ok: bool = True) -> wire.Permit:
        """One user on `worker` asks, is granted, sends and finishes a request."""
        generator = self.generators[worker]
        asked = gevent.spawn(generator.acquire_permit)
        permit = asked.get(timeout=5)
        assert permit is not None
        payload = generator.take_payload()
        record = generator.new_record(0, payload, permit)
        record.t_send, record.duration_s = 100.0 + permit.seq, 1.0
        if ok:
            record.ttft_s, record.latency_s, record.completion_tokens, record.prompt_tokens = 0.1, 1.0, 4, 16
        else:
            record.fail(wire.http_reason(503), "busy")
        generator.finish(record, permit)
        return permit


def test_a_sweep_runs_each_stage_with_its_exact_budget(tmp_path: Path) -> None:
    cluster = Cluster(sweep_options(tmp_path, "--parallel", "1", "2", "--number", "2", "3"))
    master = cluster.master
    assert master.tick() == (1, 1.0) and not master.sweep.running  # spawning stage 1
    cluster.users(1)
    assert master.tick() == (1, 1.0) and master.sweep.running
    for worker in ("w0", "w1"):
        cluster.send_one(worker)
    assert master.tick() == (1, 1.0)  # stage 1 ended; stage 2 spawns
    cluster.users(2)
    master.tick()
    permits = [cluster.send_one(worker) for worker in ("w0", "w1", "w0")]
    assert [(p.stage, p.seq) for p in permits] == [(1, 0), (1, 1), (1, 2)]
    # the budget is used up: a fourth ask waits, and the stage ends without it
    waiting = gevent.spawn(cluster.generators["w1"].acquire_permit)
    gevent.sleep(0)
    assert master.tick() is None and not waiting.ready()
    waiting.kill()
    for generator in cluster.generators.values():
        generator.report_done()
    summary = master.finish()
    write_run(str(tmp_path), summary, master.writer.path, None)
    assert [(s["parallel"], s["number"], s["sent"], s["succeeded"]) for s in summary["stages"]] == [
        (1, 2, 2, 2),
        (2, 3, 3, 3),
    ]
    assert len(read_records(str(tmp_path / "requests.jsonl"))) == 5
    written = json.loads((tmp_path / "summary.json").read_text())
    # every worker's facts arrive as messages: its pool, its reuse, its CPU
    assert sorted(written["workers"]) == ["0", "1"]
    assert all(
        worker["payloads"]["reused"] == 0 and "cpu_s" in worker["client"] for worker in written["workers"].values()
    )
    assert written["payloads"]["pool_size"] == 2 * 5 and written["payloads"]["reused"] == 0


def test_payload_reuse_is_reported_per_worker(tmp_path: Path) -> None:
    options = sweep_options(tmp_path, "--pool-size", "2", "--reuse-payloads")  # a plain run cycling 2 payloads
    fake = FakeCluster()
    master = Master(fake_environment(fake.master, num_users=1), options)
    generator = LoadGenerator(fake_environment(fake.add_worker("w3")), options, worker_index=3)
    generator.prepare()
    for _ in range(5):
        record = generator.new_record(0, generator.take_payload(), None)
        record.t_send, record.duration_s = 100.0, 1.0
        generator.finish(record, None)
    generator.report_done()
    summary = master.finish()
    assert summary["workers"]["3"]["payloads"]["reused"] == 3 and summary["payloads"]["reused"] == 3
    assert summary["stages"][0]["sent"] == 5 and summary["stages"][0]["parallel"] == 1


def test_a_lost_worker_fails_its_requests_in_flight_once(tmp_path: Path) -> None:
    cluster = Cluster(sweep_options(tmp_path, "--parallel", "2", "--number", "4"))
    master = cluster.start_first_stage(2)
    lost_permit = gevent.spawn(cluster.generators["w1"].acquire_permit).get(timeout=5)
    cluster.fake.master.clients.missing.append(FakeClient("w1"))
    master.tick()  # notices the loss
    assert master.lost_workers == {"w1": 1}
    # the worker's late report of that request is not counted a second time
    late = cluster.generators["w1"].new_record(0, cluster.generators["w1"].take_payload(), lost_permit)
    late.t_send, late.duration_s = 100.0, 1.0
    cluster.generators["w1"].finish(late, lost_permit)
    for _ in range(3):
        cluster.send_one("w0")
    assert master.tick() is None
    stage = master.finish()["stages"][0]
    assert (stage["sent"], stage["failed"], stage["errors"]) == (4, 1, {wire.WORKER_LOST: 1})


def test_a_permit_granted_to_a_stopped_user_goes_back(tmp_path: Path) -> None:
    cluster = Cluster(sweep_options(tmp_path, "--parallel", "1", "--number", "1"))
    master = cluster.master
    generator = cluster.generators["w0"]
    asked = gevent.spawn(generator.acquire_permit)
    gevent.sleep(0)  # the ask is queued: no stage is open yet
    asked.kill()  # the user stops while waiting: its ask is cancelled
    assert master.ledger.outstanding == {}
    master.tick()
    cluster.users(1)
    master.tick()
    assert master.ledger.outstanding == {}  # nothing granted to the cancelled ask
    assert cluster.send_one("w1").seq == 0


@pytest.mark.parametrize("reason", wire.FAILURE_REASONS)
def test_every_failure_reason_has_a_live_series_from_the_start(tmp_path: Path, reason: str) -> None:
    from prometheus_client import generate_latest

    master = Master(fake_environment(FakeCluster().master), sweep_options(tmp_path))
    assert f'reason="{reason}"' in generate_latest(master.metrics.registry).decode()


def test_progress_says_stage_done_in_flight_rate_and_eta(tmp_path: Path) -> None:
    import io

    from harness.progress import ProgressLine

    cluster = Cluster(sweep_options(tmp_path, "--parallel", "1", "--number", "4"))
    cluster.start_first_stage(1)
    cluster.send_one("w0")
    out = io.StringIO()  # not a terminal: whole lines
    cluster.master.show_progress(ProgressLine(out))
    assert out.getvalue().startswith("stage 1/1: 1/4 done, 0 in flight, ") and "p50 TTFT 100 ms, ETA" in out.getvalue()


def test_a_stage_where_a_load_generator_ran_out_of_cpu_is_flagged(tmp_path: Path) -> None:
    cluster = Cluster(sweep_options(tmp_path, "--parallel", "1", "--number", "2"))
    master = cluster.start_first_stage(1)
    for worker, cpu_s, lag_s in ((0, 0.3, 0.001), (1, 0.95, 0.002)):  # worker 1: 95 % of a core
        health: wire.HealthMessage = {
            "worker": worker,
            "wall_s": 1.0,
            "cpu_s": cpu_s,
            "lag_p99_s": lag_s,
            "lag_max_s": lag_s,
            "read_delay_p99_s": 0.0002,
        }
        cluster.fake.workers[f"w{worker}"].send_message(wire.HEALTH, health)
    cluster.send_one("w0")
    cluster.send_one("w1")
    assert master.tick() is None
    health = master.finish()["stages"][0]["client"]
    assert health["limited"] and health["limited_by"] == ["cpu"] and health["cpu_share_max"] == 0.95
    assert health["loop_lag_p99_ms_max"] == 2.0
    assert health["workers"]["0"] == {"cpu_share": 0.3, "read_delay_p99_ms": 0.2, "loop_lag_p99_ms": 1.0}


@pytest.mark.parametrize(
    ("lag_s", "read_delay_s", "limited_by"),
    [
        (0.0077, 0.0003, []),  # the GPU box under a queueing server: a slow loop, reads on time: not the client
        (0.0010, 0.0150, ["read_delay"]),  # reads 15 ms after their bytes arrived: events merge
    ],
)
def test_only_measured_effects_flag_a_stage(
    tmp_path: Path, lag_s: float, read_delay_s: float, limited_by: list[str]
) -> None:
    cluster = Cluster(sweep_options(tmp_path, "--parallel", "1", "--number", "1"))
    master = cluster.start_first_stage(1)
    health: wire.HealthMessage = {
        "worker": 0,
        "wall_s": 1.0,
        "cpu_s": 0.04,
        "lag_p99_s": lag_s,
        "lag_max_s": lag_s,
        "read_delay_p99_s": read_delay_s,
    }
    cluster.fake.workers["w0"].send_message(wire.HEALTH, health)
    cluster.send_one("w0")
    assert master.tick() is None
    client = master.finish()["stages"][0]["client"]
    assert client["limited_by"] == limited_by and client["limited"] == bool(limited_by)


def test_the_loop_watch_measures_a_blocked_loop() -> None:
    import time

    from harness.load.health import LoopWatch

    said: list[wire.HealthMessage] = []
    watch = LoopWatch(7, said.append)
    watch.start()
    gevent.sleep(0.2)
    time.sleep(0.05)  # the loop is blocked for 50 ms, as a CPU-heavy greenlet would block it
    deadline = time.monotonic() + 5
    while not said and time.monotonic() < deadline:
        gevent.sleep(0.05)
    watch.stop()
    assert said and said[0]["worker"] == 7 and said[0]["lag_max_s"] >= 0.04


def test_one_stall_shows_in_the_seconds_max_not_in_the_rolling_p99(monkeypatch: pytest.MonkeyPatch) -> None:
    """p99 over a window of many ticks: one stall is 1 of ~200 samples, not the whole "p99" of a short second."""
    import time

    from harness.load import health

    monkeypatch.setattr(health, "LAG_TICK_S", 0.002)
    monkeypatch.setattr(health, "LAG_WINDOW_S", 0.4)  # ~200 ticks
    monkeypatch.setattr(health, "REPORT_EVERY_S", 0.2)
    said: list[wire.HealthMessage] = []
    watch = health.LoopWatch(0, said.append)
    watch.start()
    gevent.sleep(0.5)  # the window fills
    time.sleep(0.03)  # one 30 ms stall
    deadline = time.monotonic() + 5
    while len(said) < 5 and time.monotonic() < deadline:
        gevent.sleep(0.05)
    watch.stop()
    stalled = [report for report in said if report["lag_max_s"] >= 0.025]
    assert len(stalled) == 1 and stalled[0]["lag_p99_s"] < 0.025


def test_a_note_says_why_locusts_count_differs(tmp_path: Path) -> None:
    cluster = Cluster(sweep_options(tmp_path, "--parallel", "1", "--number", "2"))
    master = cluster.start_first_stage(1)
    cluster.send_one("w0")
    cluster.send_one("w0")
    assert master.locust_count_line(2) is None
    line = master.locust_count_line(1)
    assert line is not None and line.startswith("note: Locust's table counts 1 requests, omniload's records 2")
