"""The master's side of a run (or the single process's): stages, budget, records, reports.

Load-generating processes (workers, or the single process itself) talk to it only with
Locust messages, so one code path serves every topology; on a LocalRunner a message to
the "master" is a direct call.

    worker -> master   omniload_want {ask}            a user wants a permit for one request
                       omniload_cancel {ask}          that user was stopped before it got one
                       omniload_return {permit}       a permit that arrived for a stopped user
                       omniload_record {record, permit}  a finished request
                       omniload_info {payloads, tokenize_check}  once its payload pool is built
    master -> worker   omniload_grant {ask, permit}

The sweep itself is driven by `SweepShape.tick()` (harness/shape.py), which asks
`Coordinator.tick()` for the users of the current stage.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any, TypedDict

from harness.budget import BudgetLedger, Permit
from harness.grafana import StageAnnotator
from harness.metrics import LiveMetrics
from harness.options import LoadOptions, Stage
from harness.records import RecordWriter, RequestRecord
from harness.report import recommendations, write_stages_csv
from harness.stats import StageAccumulator, StageSummary
from harness.summary import REQUESTS_FILE, RunSummary, format_stage_table, write_summary

if TYPE_CHECKING:
    from locust.env import Environment
    from locust.rpc import Message

    from harness.run import LoadRun

logger = logging.getLogger(__name__)

WANT, CANCEL, RETURN, RECORD, INFO, GRANT = ("omniload_want", "omniload_cancel", "omniload_return",
                                            "omniload_record", "omniload_info", "omniload_grant")  # fmt: skip
LOST_REASON = "worker_lost"


class RecordMessage(TypedDict):
    record: dict[str, Any]  # RequestRecord.to_dict()
    permit: list[int | bool] | None  # Permit.to_wire(); None in a plain run
    cpu_s: float  # the sending process's CPU seconds so far


class Coordinator:
    def __init__(self, environment: Environment, options: LoadOptions) -> None:
        self.environment = environment
        self.options = options
        self.started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        os.makedirs(options.report_dir, exist_ok=True)
        self.writer = RecordWriter(os.path.join(options.report_dir, REQUESTS_FILE))
        self.ledger = BudgetLedger(self._send_grant)
        self.stages: tuple[Stage, ...] = options.stages
        self.accumulators: list[StageAccumulator] = []
        self.summaries: list[StageSummary] = []
        self.lost_workers: dict[str, int] = {}  # worker -> requests lost in flight
        self.worker_info: dict[str, Any] = {}  # merged from the workers (pool, CPU)
        self.metrics = LiveMetrics(options.model)
        self.annotator = StageAnnotator(options.grafana_url) if options.grafana_url else None
        self._stage_index = 0
        self._phase = "spawn"
        self._resume_at = 0.0
        runner = environment.runner
        assert runner is not None
        for name, handler in ((WANT, self._on_want), (CANCEL, self._on_cancel), (RETURN, self._on_return),
                              (RECORD, self._on_record), (INFO, self._on_info)):  # fmt: skip
            runner.register_message(name, handler)

    # --- the sweep, one tick a second (from the shape) --------------------------------

    def tick(self) -> tuple[int, float] | None:
        """Users and spawn rate for now; None when the last stage is done."""
        if self._stage_index >= len(self.stages):
            return None
        stage = self.stages[self._stage_index]
        runner = self.environment.runner
        assert runner is not None
        self._notice_lost_workers()
        if self._phase == "sleep":
            if time.monotonic() < self._resume_at:
                return self.stages[self._stage_index - 1].parallel, float(self.stages[self._stage_index - 1].parallel)
            self._phase = "spawn"
        if self._phase == "spawn":
            if runner.user_count == stage.parallel:
                self.accumulators.append(StageAccumulator(stage.parallel, stage.number))
                self.ledger.open(self._stage_index, self.options.warmup_num, stage.number)
                self.metrics.set_stage(self._stage_index + 1, stage.parallel, stage.number, running=True)
                if self.annotator is not None:
                    self.annotator.mark("start", self._stage_index + 1, stage.parallel, stage.number)
                self._phase = "running"
                logger.info("omniload: stage %d/%d: %d users, %d requests", self._stage_index + 1, len(self.stages),
                            stage.parallel, stage.number)  # fmt: skip
            return stage.parallel, float(stage.parallel)
        if self.ledger.complete:
            self._end_stage()
            if self._stage_index >= len(self.stages):
                return None
            self._phase = "sleep" if self.options.sleep_interval_s > 0 else "spawn"
            self._resume_at = time.monotonic() + self.options.sleep_interval_s
        return stage.parallel, float(stage.parallel)

    def _end_stage(self) -> None:
        self.ledger.close()
        stage = self.stages[self._stage_index]
        self.metrics.set_stage(self._stage_index + 1, stage.parallel, stage.number, running=False)
        if self.annotator is not None:
            self.annotator.mark("end", self._stage_index + 1, stage.parallel, stage.number)
        summary = self.accumulators[-1].summary()
        self.summaries.append(summary)
        print(f"\nomniload stage {self._stage_index + 1}/{len(self.stages)}\n{format_stage_table([summary])}", flush=True)
        self._stage_index += 1

    def _notice_lost_workers(self) -> None:
        clients = getattr(self.environment.runner, "clients", None)  # only a MasterRunner has workers
        for client in clients.missing if clients is not None else ():
            if client.id not in self.lost_workers:
                lost = self.ledger.worker_lost(client.id)
                self.lost_workers[client.id] = len(lost)
                logger.warning("omniload: worker %s lost with %d requests in flight", client.id, len(lost))
                for permit in lost:
                    self._keep(self._lost_record(client.id, permit), permit)

    def _lost_record(self, worker_id: str, permit: Permit) -> dict[str, Any]:
        record = RequestRecord(f"lost-{permit.stage}-{permit.seq}", permit.stage, -1, -1, time.time(), 0,
                               warmup=permit.warmup, duration_s=0.0)  # fmt: skip
        record.fail(LOST_REASON, f"worker {worker_id} stopped answering with this request in flight")
        return record.to_dict()

    def live_summaries(self) -> list[StageSummary]:
        """Finished stages and, while it runs, the current one (for the web UI)."""
        if len(self.accumulators) > len(self.summaries):
            return [*self.summaries, self.accumulators[-1].summary()]
        return list(self.summaries)

    def update_gauges(self) -> None:
        """Users, workers and requests in flight, for the live metrics (each shape tick)."""
        runner = self.environment.runner
        assert runner is not None
        workers = getattr(runner, "worker_count", 1)  # a MasterRunner counts its workers
        in_flight = len(self.ledger.outstanding) if self.stages else runner.user_count
        self.metrics.set_load(runner.user_count, workers, in_flight)

    # --- messages from load-generating processes --------------------------------------

    def _on_want(self, environment: Environment, msg: Message) -> None:
        self.ledger.want(msg.node_id, msg.data["ask"])

    def _on_cancel(self, environment: Environment, msg: Message) -> None:
        self.ledger.cancel(msg.node_id, msg.data["ask"])

    def _on_return(self, environment: Environment, msg: Message) -> None:
        self.ledger.give_back(Permit.from_wire(msg.data["permit"]))

    def _on_info(self, environment: Environment, msg: Message) -> None:
        self.worker_info[msg.node_id] = msg.data

    def _on_record(self, environment: Environment, msg: Message) -> None:
        data: RecordMessage = msg.data
        permit = Permit.from_wire(data["permit"]) if data["permit"] is not None else None
        if permit is not None and not self.ledger.finish(permit):
            return  # reported after its worker was declared lost: already counted
        self._keep(data["record"], permit, data.get("cpu_s"))

    def _keep(self, record: dict[str, Any], permit: Permit | None, worker_cpu_s: float | None = None) -> None:
        self.writer.write_dict(record)
        if permit is not None and permit.warmup:
            return
        self.metrics.observe(record, worker_cpu_s)
        if not self.accumulators:  # a plain run: one stage of Locust's users
            self.accumulators.append(StageAccumulator(None, None))
        self.accumulators[-1].add(record)

    def _send_grant(self, worker_id: str, ask_id: int, permit: Permit) -> None:
        runner = self.environment.runner
        assert runner is not None
        runner.send_message(GRANT, {"ask": ask_id, "permit": permit.to_wire()}, client_id=worker_id)

    # --- the end ----------------------------------------------------------------------

    def finish(self, local_run: LoadRun | None) -> RunSummary:
        """Write summary.json and stages.csv, print the tables; returns the summary.

        local_run: the single process's own run (None when distributed), for its CPU
        use during load and its payload reuse.
        """
        if not self.stages and self.accumulators:  # a plain run: its concurrency is Locust's user count
            accumulator = self.accumulators[0]
            accumulator.parallel = getattr(self.environment.parsed_options, "num_users", None)
            self.summaries = [accumulator.summary()]
        elif len(self.summaries) < len(self.accumulators):  # stopped mid-stage
            self.summaries.append(self.accumulators[-1].summary())
        summary = RunSummary(model=self.options.model, started_at=self.started_at,
                             config=self.options.public_config(), stages=self.summaries)  # fmt: skip
        if local_run is not None and "local" in self.worker_info:
            summary.update(self.worker_info["local"])  # type: ignore[typeddict-item]
            summary["client"] = local_run.client_usage()
            if local_run.pool is not None:
                summary["payloads"]["reused"] = local_run.pool.reused
                if local_run.pool.reused:
                    print(f"note: {local_run.pool.reused} requests reused a payload (pool of "
                          f"{len(local_run.pool.payloads)}; raise --pool-size for unique prompts and images)")  # fmt: skip
        else:
            summary["workers"] = self.worker_info
        if self.lost_workers:
            summary["lost_workers"] = dict(self.lost_workers)
        path = write_summary(self.options.report_dir, summary)
        csv_path = write_stages_csv(self.options.report_dir, self.summaries)
        print("\nomniload summary\n" + format_stage_table(self.summaries))
        for line in recommendations(self.summaries, self.lost_workers):
            print(line)
        print(f"wrote {path}, {csv_path} and {self.writer.path}\n", flush=True)
        return summary

    def add_to_summary(self, summary: RunSummary, key: str, value: Any) -> None:
        """Add a part computed after the load (the OmniBench pass) and rewrite summary.json."""
        summary[key] = value  # type: ignore[literal-required]
        write_summary(self.options.report_dir, summary)

    def close(self) -> None:
        self.writer.close()
