"""One load-generating process's side of a run (the single process, or a worker).

Prepared before users spawn (payload pool, tokenizer, a /tokenize check); during load
it hands users their payloads and, in a sweep, the master's permits; every finished
request passes through `finish`: reported to Locust once with its full stream time,
appended to the worker's own JSONL (workers only), and sent to the master. It talks to
the master only in the messages of harness/wire.py, also when both are one process.
"""

from __future__ import annotations

import gevent
from gevent.event import AsyncResult

import gc
import inspect
import itertools
import logging
import os
import time
import uuid
from typing import TYPE_CHECKING, Any, cast

from harness import wire
from harness.bodies import BodyWriter
from harness.jsonl import JsonlWriter
from harness.load.builder import BuilderProcess
from harness.load.factory import PayloadFactory
from harness.load.health import LoopWatch
from harness.load.payloads import Payload, PayloadPool, PayloadSource, build_payloads
from harness.load.preflight import check_prompt_with_server
from harness.load.probe import ProbeSender
from harness.options import LoadOptions
from harness.perenvironment import PerEnvironment
from harness.records import RequestRecord, error_reason
from harness.tokenizer import count_tokens_batch, load_tokenizer
from harness.wire import Permit

if TYPE_CHECKING:
    from locust.env import Environment
    from locust.rpc import Message

logger = logging.getLogger(__name__)

# Each worker's prompts and images differ: its seed is offset by its index times this.
WORKER_SEED_STRIDE = 1_000_003
# Each refill batch of a plain run gets a seed no worker's other batches use.
BATCH_SEED_STRIDE = WORKER_SEED_STRIDE * 1024
WORKER_RECORDS_FILE = "requests.worker-{index}.jsonl"
# Extra rows in Locust's statistics (web UI table and charts): TTFT and TPOT in ms.
LLM_ROW_TYPE = "LLM"
TTFT_ROW = "[ttft]"
TPOT_ROW = "[tpot]"


class FailedRequest(Exception):
    """What Locust sees for a failed request: the reason only (bounded error table)."""


class LoadGenerator:
    """Holds one process's payload pool, permit tickets and record file; called by its users.

    `worker_index` is None for a single process (which keeps no file of its own: the
    master side in the same process writes requests.jsonl), else the worker's index.
    """

    def __init__(self, environment: Environment, options: LoadOptions, worker_index: int | None = None) -> None:
        self.environment = environment
        self.options = options
        self.worker_index = worker_index or 0
        self.run_tag = uuid.uuid4().hex[:8]
        self.pool: PayloadSource | None = None
        self.probes: ProbeSender | None = None  # --probe-rate, in the single process or worker 0
        self.tokenizer: Any = None
        self._request_numbers = itertools.count()
        self._user_numbers = itertools.count()
        self._ask_numbers = itertools.count()
        self._asks: dict[int, AsyncResult] = {}
        self._unreachable_since_s: float | None = None  # first connect_error of the running outage
        self._stage_seen = -1  # the stage of the last permit
        self.unreachable_s = 0.0  # seconds the server could not be reached, outages summed
        self._load_started_cpu_s = 0.0
        self._load_started_wall_s = 0.0
        self.writer: JsonlWriter | None = None
        self.builder: BuilderProcess | None = None  # builds refills for a run of unknown length
        if worker_index is not None:
            os.makedirs(options.report_dir, exist_ok=True)
            path = os.path.join(options.report_dir, WORKER_RECORDS_FILE.format(index=worker_index))
            self.writer = JsonlWriter(path, fresh=True)
        self.bodies = BodyWriter(options.report_dir, self.worker_index) if options.payload.keep_bodies else None
        # --trace and --replay: each stage's payloads follow the previous stages' in the pool
        self._stage_bases = list(itertools.accumulate((stage.number or 0 for stage in options.sweep.stages), initial=0))
        if options.sweep.stages:
            assert environment.runner is not None
            environment.runner.register_message(wire.GRANT, self._on_grant)

    # --- before load -----------------------------------------------------------------

    def prepare(self) -> None:
        """Load the tokenizer, build the payload pool, check a prompt with the server; tell the master."""
        started_s = time.perf_counter()
        payload_spec = self.options.payload
        self.tokenizer = load_tokenizer(payload_spec.tokenizer_path)
        seed = payload_spec.seed + self.worker_index * WORKER_SEED_STRIDE
        # A sweep's budget is known: one fresh payload per request it may send.
        budget = self.options.sweep.requests_budget
        model = self.options.endpoint.model
        fixed_pool = budget is not None or payload_spec.reuse_payloads
        # Refills come from a child process, started first: it loads its tokenizer meanwhile.
        builder = self.builder = None if fixed_pool else BuilderProcess()
        payloads = build_payloads(
            payload_spec, model, self.tokenizer, budget or payload_spec.pool_size, seed, payload_spec.seed
        )
        if builder is None:
            self.pool = PayloadPool(payloads)  # a sweep built one per request of its budget
        else:
            self.pool = PayloadFactory(
                payloads,
                lambda batch: builder.build(
                    payload_spec, model, payload_spec.pool_size, seed + batch * BATCH_SEED_STRIDE, payload_spec.seed
                ),
            )
        build_s = time.perf_counter() - started_s
        facts: wire.PayloadFacts = {
            "pool_size": len(payloads),
            "build_s": round(build_s, 3),
            "image_bytes_mean": sum(payload.image_bytes for payload in payloads) / len(payloads),
            "body_bytes_mean": sum(len(payload.body) for payload in payloads) / len(payloads),
        }
        check = check_prompt_with_server(self.options.endpoint, payloads[0].text, payloads[0].expected_text_tokens)
        logger.info(
            "omniload: built %d payloads in %.1f s (mean body %.0f KB)",
            len(payloads),
            build_s,
            facts["body_bytes_mean"] / 1024,
        )
        ready: wire.ReadyMessage = {"worker": self.worker_index, "payloads": facts, "tokenize_check": check}
        self._send(wire.READY, ready)
        # The pool and tokenizer live for the whole run: keep them out of the collector's
        # full passes, which would otherwise stall every stream for tens of ms.
        gc.collect()
        gc.freeze()
        # Locust's runner.stop() calls inspect.stack(), whose first call scans every
        # module (~35 ms, while streams are still open); later calls take ~2 ms.
        inspect.stack()
        self._load_started_cpu_s = time.process_time()
        self._load_started_wall_s = time.time()
        self.watch = LoopWatch(self.worker_index, lambda health: self._send(wire.HEALTH, health))
        self.watch.start()
        if payload_spec.probe_rate_rps and self.worker_index == 0:  # one sender: the rate is the run's
            self.probes = ProbeSender(self)

    def start_probes(self) -> None:
        """Probes begin with the test (--probe-rate; nothing otherwise)."""
        if self.probes is not None:
            self.probes.start()

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Token counts of output texts, in a native thread (the tokenizer releases the GIL)."""
        return gevent.get_hub().threadpool.apply(count_tokens_batch, (self.tokenizer, texts))

    # --- during load -----------------------------------------------------------------

    def next_user_number(self) -> int:
        return next(self._user_numbers)

    def acquire_permit(self) -> Permit | None:
        """In a sweep, wait for the master's permit to send one request; None in a plain run."""
        if not self.options.sweep.stages:
            return None
        ask_id = next(self._ask_numbers)
        result: AsyncResult = AsyncResult()
        self._asks[ask_id] = result
        want: wire.WantMessage = {"ask": ask_id}
        self._send(wire.WANT, want)
        try:
            permit = Permit.from_wire(cast(wire.PermitWire, result.get()))
        except BaseException:  # the user was stopped while waiting (GreenletExit)
            if self._asks.pop(ask_id, None) is not None:
                self._send(wire.CANCEL, want)
            raise
        if permit.stage != self._stage_seen:  # the stage's users are all up: what came before was spawning
            self._stage_seen = permit.stage
            self.watch.new_stage()
        return permit

    def _on_grant(self, environment: Environment, msg: Message) -> None:
        grant: wire.GrantMessage = msg.data
        result = self._asks.pop(grant["ask"], None)
        if result is None:
            returned: wire.ReturnMessage = {"permit": grant["permit"]}
            self._send(wire.RETURN, returned)  # its user is gone: back to the master
        else:
            result.set(grant["permit"])

    def take_payload(self, permit: Permit | None = None) -> Payload:
        """The next payload; for a --trace, the one of the permit's row (every process built them all, in order)."""
        assert self.pool is not None, "prepare() runs before users spawn"
        payload = self.options.payload
        if (payload.trace or payload.replay) and permit is not None and isinstance(self.pool, PayloadPool):
            index = self._stage_bases[min(permit.stage, len(self._stage_bases) - 1)] + permit.seq
            return self.pool.payloads[index % len(self.pool.payloads)]
        return self.pool.take()

    def keep_body(self, record: RequestRecord, body: bytes) -> None:
        """--keep-bodies: the body of a request that has ended, for `omniload replay`."""
        if self.bodies is not None and record.user >= 0:
            self.bodies.keep(record.request_id, body)

    def new_record(self, user: int, payload: Payload, permit: Permit | None) -> RequestRecord:
        request_id = f"{self.run_tag}-{self.worker_index}-{next(self._request_numbers)}"
        return RequestRecord(
            request_id=request_id,
            stage=permit.stage if permit else 0,
            worker=self.worker_index,
            user=user,
            t_send=0.0,
            expected_text_tokens=payload.expected_text_tokens,
            warmup=permit.warmup if permit else False,
            due_s=permit.due_s if permit else None,
            expected_media_tokens=payload.expected_media_tokens,
            request_class=payload.request_class,
            expected_video_tokens=payload.expected_video_tokens,
            request_bytes=len(payload.body),
            images=payload.images,
            audio_s=payload.audio_s,
            video_s=payload.video_s,
            prefix_group=payload.prefix_group,
        )

    def finish(self, record: RequestRecord, permit: Permit | None) -> None:
        """Report the request to Locust once, keep it locally (workers) and send it to the master."""
        error = record.error
        self.environment.events.request.fire(
            request_type="POST",
            name=self.options.endpoint.api_path,
            response_time=(record.duration_s or 0.0) * 1000,
            response_length=record.completion_tokens or 0,
            exception=FailedRequest(error["reason"]) if error else None,
            context={},
            response=None,
        )
        self._track_outage(record)
        if error is None:  # TTFT and TPOT as rows of Locust's own statistics (successes only)
            stats = self.environment.stats
            for name, value_s in ((TTFT_ROW, record.ttft_s), (TPOT_ROW, record.tpot_s)):
                if value_s is not None:
                    # Logged on the row alone: a request event would also count them in
                    # the Aggregated row, three "requests" per request sent.
                    stats.get(name, LLM_ROW_TYPE).log(value_s * 1000, 0)  # type: ignore[arg-type]  # ms as a float: kept
        as_dict = record.to_dict()
        if self.writer is not None:
            self.writer.write(as_dict)
        message: wire.RecordMessage = {
            "record": as_dict,
            "permit": permit.to_wire() if permit else None,
            "cpu_s": time.process_time(),
        }
        self._send(wire.RECORD, message)

    def _track_outage(self, record: RequestRecord) -> None:
        """An outage runs from a first connect_error to the next request that reached the server."""
        unreachable = error_reason(record) == wire.CONNECT_ERROR
        if unreachable and self._unreachable_since_s is None:
            self._unreachable_since_s = record.t_send
        elif not unreachable and self._unreachable_since_s is not None:
            self.unreachable_s += record.t_send - self._unreachable_since_s
            self._unreachable_since_s = None

    def _send(self, message_type: str, data: Any) -> None:
        runner = self.environment.runner
        assert runner is not None
        runner.send_message(message_type, data)

    # --- after load ------------------------------------------------------------------

    def report_done(self) -> None:
        """Tell the master what this process used and reused during load (at test stop)."""
        if self.pool is None:
            return  # never prepared: nothing to say
        if self.probes is not None:
            self.probes.stop()
        if self.bodies is not None:
            self.bodies.close()
            self.bodies = None
        self.watch.stop()
        cpu_s = time.process_time() - self._load_started_cpu_s
        wall_s = time.time() - self._load_started_wall_s
        usage: wire.ClientUsage = {
            "cpu_s": round(cpu_s, 3),
            "wall_s": round(wall_s, 3),
            "cpu_percent": round(100 * cpu_s / wall_s, 1) if wall_s > 0 else 0.0,
        }
        unreachable_s = self.unreachable_s
        if self._unreachable_since_s is not None:  # still unreachable at the end
            unreachable_s += time.time() - self._unreachable_since_s
        done: wire.DoneMessage = {
            "worker": self.worker_index,
            "reused": self.pool.reused,
            "client": usage,
            "unreachable_s": round(unreachable_s, 3),
            "built_during_load": self.pool.built_during_load,
            "payload_waits": self.pool.waits,
            "payload_wait_s": round(self.pool.wait_s, 3),
        }
        self._send(wire.DONE, done)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.builder is not None:
            self.builder.close()


GENERATORS: PerEnvironment[LoadGenerator] = PerEnvironment()  # the load side of each run in this process
