"""The master's side of a run (or the single process's): stages, budget, records, reports.

Load generators (harness/load/) reach it only through the messages of harness/wire.py.
It keeps every record (requests.jsonl), the per-stage statistics and the live metrics,
runs the sweep (harness/master/sweep.py) when the load shape ticks, and at the end
writes summary.json and stages.csv and prints the tables.
"""

from __future__ import annotations

import gevent

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness import wire
from harness.dataset import read_dataset
from harness.grafana import StageAnnotator
from harness.intervals import wilson_interval
from harness.jsonl import JsonlWriter
from harness.master.arrivals import ArrivalSchedule
from harness.master.budget import BudgetLedger
from harness.master.client_watch import ClientWatch
from harness.master.loadgenerators import add_load_generators
from harness.master.metrics import LiveMetrics
from harness.master.repeats import repeated_stages
from harness.master.saturation import saturated
from harness.master.sla import SlaSearch, sla_summary
from harness.master.stats import StageAccumulator
from harness.master.sweep import Phase, SweepState
from harness.options import LoadOptions, Stage
from harness.perenvironment import PerEnvironment
from harness.progress import ProgressLine, eta_text
from harness.provenance import provenance
from harness.records import RequestRecord
from harness.results import PROBE_CLASS, REQUESTS_FILE, ProbeSummary, RunSummary, StageSummary
from harness.wire import Permit

if TYPE_CHECKING:
    from locust.env import Environment
    from locust.rpc import Message

logger = logging.getLogger(__name__)

# Open loop: a request is rejected (rejected_client_limit) when no free user took it
# this long after its due time; the master looks at least this often.
OPEN_LOOP_GRACE_S = 0.005
EXPIRY_POLL_S = 0.05


# Says a stage that just ended: (its name, e.g. "2/5", its summary).
StageEnd = Callable[[str, StageSummary], None]


MAX_BAD_KEPT = 100  # bad dataset rows named in summary.json (all are counted)


MIN_GUARDED_REQUESTS = 10  # a stage's --max-error-rate is judged from this many requests on


class Master:
    """Holds the run's records, stage statistics, budget ledger, live metrics and load-generator facts.

    Created by the init hook on the master or single process; the load shape calls
    `tick` once a second; the test_stop hook calls `finish`.
    """

    def __init__(self, environment: Environment, options: LoadOptions, on_stage_end: StageEnd | None = None) -> None:
        """on_stage_end(stage name such as "2/5", its summary): says a stage that just ended (the report side)."""
        self.environment = environment
        self.on_stage_end = on_stage_end
        self.options = options
        self.started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        os.makedirs(options.report_dir, exist_ok=True)
        self.writer = JsonlWriter(os.path.join(options.report_dir, REQUESTS_FILE), fresh=True)
        self.ledger = BudgetLedger(self._send_grant)
        self.sla = SlaSearch(options.sweep.sla) if options.sweep.sla is not None else None
        next_stage = (lambda: self.sla.next_stage(self.summaries)) if self.sla is not None else None  # type: ignore[union-attr]
        self.sweep = SweepState(
            options.sweep.stages,
            options.sweep.sleep_interval_s,
            self._start_stage,
            self._end_stage,
            lambda: self.ledger.complete,
            next_stage,
        )
        self._time_up: gevent.Greenlet | None = None  # ends a stage's budget when its --duration is up
        self._expiry: gevent.Greenlet | None = None  # an open-loop stage's overdue requests
        self.accumulators: list[StageAccumulator] = []
        self.summaries: list[StageSummary] = []
        self.lost_workers: dict[str, int] = {}  # worker id -> requests lost in flight
        self.ready: dict[int, wire.ReadyMessage] = {}  # per load generator index
        self.done: dict[int, wire.DoneMessage] = {}
        self.stop_reason: str | None = None  # set when the run was told to stop early (a signal, a guard)
        self.early_stop: str | None = None  # the guard that stopped it (max_error_rate), when one did
        self.pooled: list[StageAccumulator] = []  # --num-runs: per planned stage, every run's records
        self.rejected: str | None = None  # a worker's one-line refusal of the input
        self.finished = False  # the reports are being written
        self.client_watch = ClientWatch()
        self.probes: dict[int, StageAccumulator] = {}  # --probe-rate: per stage index, apart from its figures
        self.requests_sent = 0  # records of requests that were sent, warm-ups included (Locust counts those)
        payload = options.payload
        classes = tuple(request_class.name for request_class in payload.mix) or ("load",)
        self.metrics = LiveMetrics(
            options.endpoint.model, classes=classes + ((PROBE_CLASS,) if payload.probe_rate_rps else ())
        )
        self.annotator = StageAnnotator(options.metrics.grafana_url) if options.metrics.grafana_url else None
        runner = environment.runner
        assert runner is not None
        for name, handler in (
            (wire.WANT, self._on_want),
            (wire.CANCEL, self._on_cancel),
            (wire.RETURN, self._on_return),
            (wire.RECORD, self._on_record),
            (wire.READY, self._on_ready),
            (wire.DONE, self._on_done),
            (wire.REJECTED, self._on_rejected),
            (wire.HEALTH, self._on_health),
        ):
            runner.register_message(name, handler)

    # --- the sweep, one tick a second (from the shape) --------------------------------

    def tick(self) -> tuple[int, float] | None:
        """Users and spawn rate for now; None when the last stage is done or the run was stopped."""
        runner = self.environment.runner
        assert runner is not None
        self._notice_lost_workers()
        if self.stop_reason is not None:
            return None
        return self.sweep.tick(runner.user_count, time.monotonic())

    def request_stop(self, reason: str) -> None:
        """Stop sending (the shape ends at its next tick); requests in flight may finish."""
        if self.stop_reason is None:
            self.stop_reason = reason
            logger.warning(
                "omniload: %s: stopping; requests in flight may finish, then the reports are written", reason
            )

    def run_completed(self) -> bool:
        """Every stage ran its whole budget (a plain run: it was not cut short by a signal before -t)."""
        if self.sweep.stages:
            return self.sweep.phase is Phase.DONE
        return self.stop_reason is None or not getattr(self.environment.parsed_options, "run_time", None)

    def _start_stage(self, index: int, stage: Stage) -> None:
        if self.options.sweep.num_runs > 1 and stage.run == 0:  # --num-runs: the planned stage's runs pooled
            self.pooled.append(
                StageAccumulator(
                    stage.parallel,
                    None,
                    self.options.goodput_slos,
                    stage.rate_rps,
                    percentiles=self.options.percentiles,
                )
            )
        self.accumulators.append(
            StageAccumulator(
                stage.parallel,
                stage.number,
                self.options.goodput_slos,
                stage.rate_rps,
                stage.open_loop,
                by_class=bool(self.options.payload.mix),
                by_turn=self.options.payload.conversation.enabled,
                slice_s=self.options.sweep.slice_s,
                percentiles=self.options.percentiles,
            )
        )
        sweep = self.options.sweep
        schedule = None
        if stage.rate_rps is not None:
            schedule = ArrivalSchedule(
                stage.rate_rps,
                sweep.arrival,
                sweep.burstiness,
                self.options.payload.seed + index,
                stage.duration_s,
                stage.number,
                stage.offsets_s,
            )
        self.ledger.open(index, sweep.warmup_num, stage.number, schedule, stage.open_loop)
        if stage.duration_s is not None:  # a timer, not the once-a-second tick: the limit holds to the ms
            self._time_up = gevent.spawn_later(stage.duration_s, self.ledger.end_budget)
        if stage.open_loop:
            self._expiry = gevent.spawn(self._expire_overdue, index, stage)
        self.metrics.set_stage(index + 1, stage.parallel, stage.label, running=True)
        if self.annotator is not None:
            self.annotator.mark("start", index + 1, stage.parallel, stage.label)
        pace = ""
        if stage.rate_rps is not None:
            pace = (
                f", {'open loop' if stage.open_loop else 'paced'} at {stage.rate_rps:g} req/s "
                f"({sweep.arrival}{f' burstiness {sweep.burstiness:g}' if sweep.arrival == 'gamma' else ''})"
            )
        logger.info(
            "omniload: stage %s: %d users, %s requests%s", self._stage_name(index), stage.parallel, stage.label, pace
        )

    def _stage_name(self, index: int) -> str:
        """ "3/5" in a sweep; "3 (SLA search)" when the search decides how many there will be."""
        return f"{index + 1} (SLA search)" if self.sla is not None else f"{index + 1}/{len(self.sweep.stages)}"

    def _expire_overdue(self, index: int, stage: Stage) -> None:
        """Open loop: at each due time no free user took, the request counts as rejected_client_limit."""
        while self.sweep.running and self.sweep.index == index:
            due_s = self.ledger.next_due_s
            wait_s = EXPIRY_POLL_S if due_s is None else due_s + OPEN_LOOP_GRACE_S - time.time()
            gevent.sleep(min(max(wait_s, 0.0), EXPIRY_POLL_S))
            for permit in self.ledger.expire_overdue(time.time() - OPEN_LOOP_GRACE_S):
                self._keep(self._rejected_record(permit, stage), permit)

    def _rejected_record(self, permit: Permit, stage: Stage) -> RequestRecord:
        record = RequestRecord(
            f"rejected-{permit.stage}-{permit.seq}",
            permit.stage,
            -1,
            -1,
            permit.due_s or 0.0,
            0,
            duration_s=0.0,
            due_s=permit.due_s,
        )
        record.fail(
            wire.REJECTED_CLIENT_LIMIT, f"due with --max-concurrency {stage.parallel} requests in flight; not sent"
        )
        return record

    def _end_stage(self, index: int, stage: Stage) -> None:
        for timer in (self._time_up, self._expiry):
            if timer is not None:
                timer.kill(block=False)  # its count ran out first
        self._time_up = self._expiry = None
        self.ledger.close()
        self.metrics.set_stage(index + 1, stage.parallel, stage.label, running=False)
        if self.annotator is not None:
            self.annotator.mark("end", index + 1, stage.parallel, stage.label)
        summary = self._with_client_health(index, self.accumulators[-1].summary())
        self.summaries.append(summary)
        reason = saturated(self.summaries) if self.options.sweep.stop_when_saturated else None
        if reason is not None and index + 1 < len(self.sweep.stages):
            self.early_stop = "saturated"
            self.request_stop(reason)
        if self.on_stage_end is not None:
            self.on_stage_end(self._stage_name(index), summary)

    def _count_probe(self, record: RequestRecord) -> None:
        """A probe counts toward the stage running when it ended (one between stages only in requests.jsonl)."""
        if self.sweep.stages and not self.sweep.running:
            return
        index = self.sweep.index if self.sweep.stages else 0
        self.probes.setdefault(index, StageAccumulator()).add(record)

    def _with_client_health(self, index: int, summary: StageSummary) -> StageSummary:
        summary["stage"] = index + 1
        if index in self.probes:
            probes = self.probes[index].summary()
            summary["probe"] = ProbeSummary(
                sent=probes["sent"],
                succeeded=probes["succeeded"],
                failed=probes["failed"],
                ttft_s=probes["ttft_s"],
                tpot_s=probes["tpot_s"],
                latency_s=probes["latency_s"],
            )
        health = self.client_watch.stage(index, summary)
        if health is not None:
            summary["client"] = health
        return summary

    def _notice_lost_workers(self) -> None:
        clients = getattr(self.environment.runner, "clients", None)  # only a MasterRunner has workers
        for client in clients.missing if clients is not None else ():
            if client.id not in self.lost_workers:
                lost = self.ledger.worker_lost(client.id)
                self.lost_workers[client.id] = len(lost)
                logger.warning("omniload: worker %s lost with %d requests in flight", client.id, len(lost))
                for permit in lost:
                    self._keep(self._lost_record(client.id, permit), permit)

    def _lost_record(self, worker_id: str, permit: Permit) -> RequestRecord:
        record = RequestRecord(
            f"lost-{permit.stage}-{permit.seq}",
            permit.stage,
            -1,
            -1,
            time.time(),
            0,
            warmup=permit.warmup,
            duration_s=0.0,
        )
        record.fail(wire.WORKER_LOST, f"worker {worker_id} stopped answering with this request in flight")
        return record

    def show_progress(self, line: ProgressLine) -> None:
        """One progress line: stage, done/number, in flight, RPS, p50 TTFT, ETA (headless runs)."""
        if not self.accumulators or self.stop_reason is not None:
            return
        sent, rps, p50_s = self.accumulators[-1].progress(time.time())
        ttft = f"{p50_s * 1000:.0f} ms" if p50_s is not None else "-"
        in_flight = self._in_flight()
        if self.sweep.stages and self.sweep.running:
            stage = self.sweep.stages[self.sweep.index]
            left = eta_text(stage.number - sent, rps) if stage.number is not None else f"{stage.label} stage"
            line.show(
                f"stage {self._stage_name(self.sweep.index)}: {sent}/{stage.label} done, "
                f"{in_flight} in flight, {rps:.2f} req/s, p50 TTFT {ttft}, {left}"
            )
        elif not self.sweep.stages:
            line.show(f"{sent} done, {in_flight} in flight, {rps:.2f} req/s, p50 TTFT {ttft}")

    def live_summaries(self) -> list[StageSummary]:
        """Finished stages and, while it runs, the current one (for the web UI)."""
        if not self.sweep.stages and self.accumulators and self.environment.runner is not None:
            self.accumulators[0].parallel = self.environment.runner.user_count  # a plain run: its users
        if len(self.accumulators) > len(self.summaries):
            return [*self.summaries, self.accumulators[-1].summary()]
        return list(self.summaries)

    def update_gauges(self) -> None:
        """Users, workers and requests in flight, for the live metrics (each shape tick)."""
        runner = self.environment.runner
        assert runner is not None
        workers = getattr(runner, "worker_count", 1)  # a MasterRunner counts its workers
        self.metrics.set_load(runner.user_count, workers, self._in_flight())

    def _in_flight(self) -> int:
        """Requests sent and not yet ended (a plain run: its users); a permit held until its due time is not one."""
        if not self.sweep.stages:
            return self.environment.runner.user_count if self.environment.runner else 0
        now_s = time.time()
        return sum(1 for permit in self.ledger.outstanding if permit.due_s is None or permit.due_s <= now_s)

    # --- messages from load generators ------------------------------------------------

    def _on_want(self, environment: Environment, msg: Message) -> None:
        self.ledger.want(msg.node_id, msg.data["ask"])

    def _on_cancel(self, environment: Environment, msg: Message) -> None:
        self.ledger.cancel(msg.node_id, msg.data["ask"])

    def _on_return(self, environment: Environment, msg: Message) -> None:
        self.ledger.give_back(Permit.from_wire(msg.data["permit"]))

    def _on_ready(self, environment: Environment, msg: Message) -> None:
        ready: wire.ReadyMessage = msg.data
        self.ready[ready["worker"]] = ready
        if self.sweep.stages and (self.sweep.index > 0 or self.sweep.running):
            logger.warning(
                "omniload: worker %d joined during stage %d and takes part from now on; start every "
                "worker before the master, or give --expect-workers the number you start, so every stage "
                "runs on all of them",
                ready["worker"],
                self.sweep.index + 1,
            )

    def _on_done(self, environment: Environment, msg: Message) -> None:
        done: wire.DoneMessage = msg.data
        self.done[done["worker"]] = done

    def _on_health(self, environment: Environment, msg: Message) -> None:
        health: wire.HealthMessage = msg.data
        if self.sweep.stages and not self.sweep.running:
            return  # spawning or pausing: not part of any stage's load
        cpu_share, lag_s, read_delay_s = self.client_watch.add(self.sweep.index if self.sweep.stages else 0, health)
        self.metrics.set_client(health["worker"], cpu_share, lag_s, read_delay_s)

    def _on_rejected(self, environment: Environment, msg: Message) -> None:
        rejected: wire.RejectedMessage = msg.data
        if self.rejected is None:
            self.rejected = rejected["error"]
            self.request_stop(f"worker {rejected['worker']} refused the input")

    def _on_record(self, environment: Environment, msg: Message) -> None:
        data: wire.RecordMessage = msg.data
        permit = Permit.from_wire(data["permit"]) if data["permit"] is not None else None
        if permit is not None and not self.ledger.finish(permit):
            return  # reported after its worker was declared lost: already counted
        self.writer.write(data["record"])
        self._count(RequestRecord.from_dict(data["record"]), permit, data["cpu_s"])

    def _keep(self, record: RequestRecord, permit: Permit | None) -> None:
        self.writer.write(record.to_dict())
        self._count(record, permit)

    def locust_count_line(self, locust_requests: int) -> str | None:
        """A note when Locust's own table counts other than omniload's records of sent requests (None when equal)."""
        sent = self.requests_sent
        if locust_requests == sent:
            return None
        return (
            f"note: Locust's table counts {locust_requests} requests, omniload's records {sent} (warm-ups "
            "included): workers report to Locust's statistics every 3 s and a stopping worker's last report can "
            "miss the end; omniload's figures come from its own records, one per request"
        )

    def _count(self, record: RequestRecord, permit: Permit | None, worker_cpu_s: float | None = None) -> None:
        if record.user >= 0:  # sent (an open loop's rejected request never was)
            self.requests_sent += 1
        if record.request_class == PROBE_CLASS:
            self._count_probe(record)
            self.metrics.observe(record, worker_cpu_s)
            return
        if permit is not None and permit.warmup:
            return
        self.metrics.observe(record, worker_cpu_s, self.options.goodput_slos)
        if not self.accumulators:  # a plain run: one stage of Locust's users
            self.accumulators.append(
                StageAccumulator(
                    None,
                    None,
                    self.options.goodput_slos,
                    by_class=bool(self.options.payload.mix),
                    by_turn=self.options.payload.conversation.enabled,
                    percentiles=self.options.percentiles,
                )
            )
        self.accumulators[-1].add(record)
        if self.pooled:
            self.pooled[-1].add(record)
        if self.sweep.stages and self.options.sweep.max_error_rate:
            self._guard_errors(self.accumulators[-1])

    def _guard_errors(self, stage: StageAccumulator) -> None:
        """--max-error-rate: once the stage's failure share is above the bound with 95 % confidence, stop."""
        failed = stage.sent - stage.succeeded
        bound = self.options.sweep.max_error_rate
        if stage.sent < MIN_GUARDED_REQUESTS or self.early_stop is not None:
            return
        surely_at_least = wilson_interval(failed, stage.sent)[0]
        if surely_at_least > bound:
            self.early_stop = "max_error_rate"
            self.ledger.end_budget()  # no further permit of this stage, at once (the shape stops at its tick)
            self.request_stop(
                f"--max-error-rate {bound:g}: {failed} of {stage.sent} requests of stage {len(self.accumulators)} "
                f"failed (the share is at least {surely_at_least:.2f} with 95 % confidence)"
            )

    def _send_grant(self, worker_id: str, ask_id: int, permit: Permit) -> None:
        runner = self.environment.runner
        assert runner is not None
        grant: wire.GrantMessage = {"ask": ask_id, "permit": permit.to_wire()}
        runner.send_message(wire.GRANT, grant, client_id=worker_id)

    # --- the end ----------------------------------------------------------------------

    def finish(self) -> RunSummary:
        """The run's summary (harness/results.py's shape), for the report side to write and say."""
        self.finished = True
        if not self.sweep.stages and self.accumulators:  # a plain run: its concurrency is Locust's user count
            accumulator = self.accumulators[0]
            accumulator.parallel = getattr(self.environment.parsed_options, "num_users", None)
            self.summaries = [self._with_client_health(0, accumulator.summary())]
        elif len(self.summaries) < len(self.accumulators):  # stopped mid-stage
            self.summaries.append(self._with_client_health(len(self.summaries), self.accumulators[-1].summary()))
        summary = RunSummary(
            model=self.options.endpoint.model,
            started_at=self.started_at,
            config=self.options.public_config(),
            stages=self.summaries,
        )
        summary["provenance"] = provenance()
        add_load_generators(summary, self.ready, self.done)
        summary["completed"] = self.run_completed()
        payload = self.options.payload
        summary["server_profile"] = payload.server_profile
        summary["output_length_enforced"] = payload.enforced_min_tokens == payload.min_tokens
        if self.stop_reason is not None:
            summary["stopped_by"] = self.stop_reason
        if self.early_stop is not None:
            summary["stopped_early"] = self.early_stop
        if self.pooled:
            summary["repeated"] = repeated_stages(self.pooled, self.summaries, self.options.sweep.num_runs)
        if self.lost_workers:
            summary["lost_workers"] = dict(self.lost_workers)
        if self.sla is not None:
            summary["sla"] = self.sla.results
        if payload.dataset:
            dataset = read_dataset(payload.dataset, payload.tokenizer_path)
            summary["dataset"] = {
                "path": payload.dataset,
                "rows": len(dataset.rows),
                "bad_rows": len(dataset.bad),
                "bad": [{"where": where, "why": why} for where, why in dataset.bad[:MAX_BAD_KEPT]],
            }
        return summary

    def sla_document(self) -> dict[str, Any] | None:
        """sla_summary.json's content for an SLA search (None without one)."""
        if self.sla is None or self.options.sweep.sla is None:
            return None
        return sla_summary(self.options.sweep.sla, self.sla)

    def close(self) -> None:
        self.writer.close()


MASTERS: PerEnvironment[Master] = PerEnvironment()  # the master side of each run in this process
