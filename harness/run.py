"""One load-generating process's run (the single process, or a worker).

Prepared before users spawn (payload pool, tokenizer, a /tokenize check); during load
it hands users their payloads and, in a sweep, the master's permits; every finished
request passes through `finish`: reported to Locust once with its full stream time,
appended to the worker's own JSONL (workers only), and sent to the coordinator
(harness/coordinator.py), which keeps the run's records and statistics.
"""

from __future__ import annotations

import gc
import inspect
import itertools
import json
import logging
import os
import time
import uuid
from typing import TYPE_CHECKING, Any

import gevent
import urllib3
from gevent.event import AsyncResult

from harness.budget import Permit
from harness.coordinator import CANCEL, GRANT, INFO, RECORD, RETURN, WANT, RecordMessage
from harness.options import LoadOptions
from harness.payloads import Payload, PayloadPool, build_payloads
from harness.records import RecordWriter, RequestRecord
from harness.tokenizer import count_tokens_batch, load_tokenizer

if TYPE_CHECKING:
    from locust.env import Environment
    from locust.rpc import Message

logger = logging.getLogger(__name__)

TOKENIZE_PATH = "/tokenize"
TOKENIZE_TIMEOUT_S = 10.0
# Each worker's prompts and images differ: its seed is offset by its index times this.
WORKER_SEED_STRIDE = 1_000_003
WORKER_RECORDS_FILE = "requests.worker-{index}.jsonl"


class FailedRequest(Exception):
    """What Locust sees for a failed request: the reason only (bounded error table)."""


class LoadRun:
    def __init__(self, environment: Environment, options: LoadOptions, worker_index: int | None = None) -> None:
        """worker_index is None for a single process, else the worker's index from the master."""
        self.environment = environment
        self.options = options
        self.worker_index = worker_index or 0
        self.run_tag = uuid.uuid4().hex[:8]
        self.pool: PayloadPool | None = None
        self.info: dict[str, Any] = {}  # pool build and /tokenize check, for summary.json
        self.tokenizer: Any = None
        self._request_numbers = itertools.count()
        self._user_numbers = itertools.count()
        self._ask_numbers = itertools.count()
        self._asks: dict[int, AsyncResult] = {}
        self._load_started_cpu_s = 0.0
        self._load_started_wall_s = 0.0
        self.writer: RecordWriter | None = None
        if worker_index is not None:
            os.makedirs(options.report_dir, exist_ok=True)
            path = os.path.join(options.report_dir, WORKER_RECORDS_FILE.format(index=worker_index))
            self.writer = RecordWriter(path)
        if options.stages:
            assert environment.runner is not None
            environment.runner.register_message(GRANT, self._on_grant)

    # --- before load -----------------------------------------------------------------

    def prepare(self) -> None:
        """Load the tokenizer, build the payload pool, check a prompt with the server."""
        started_s = time.perf_counter()
        self.tokenizer = load_tokenizer(self.options.tokenizer_path)
        seed = self.options.seed + self.worker_index * WORKER_SEED_STRIDE
        # A sweep's budget is known: one fresh payload per request it may send.
        count = self.options.requests_budget or self.options.pool_size
        payloads = build_payloads(self.options, self.tokenizer, count, seed, self.options.seed)
        self.pool = PayloadPool(payloads)
        build_s = time.perf_counter() - started_s
        self.info = {
            "payloads": {
                "pool_size": len(payloads),
                "build_s": round(build_s, 3),
                "image_bytes_mean": sum(payload.image_bytes for payload in payloads) / len(payloads),
                "body_bytes_mean": sum(len(payload.body) for payload in payloads) / len(payloads),
            },
            "tokenize_check": check_prompt_with_server(self.options, payloads[0]),
        }
        logger.info("omniload: built %d payloads in %.1f s (mean body %.0f KB)", len(payloads), build_s,
                    self.info["payloads"]["body_bytes_mean"] / 1024)  # fmt: skip
        self._send(INFO, self.info)
        # The pool and tokenizer live for the whole run: keep them out of the collector's
        # full passes, which would otherwise stall every stream for tens of ms.
        gc.collect()
        gc.freeze()
        # Locust's runner.stop() calls inspect.stack(), whose first call scans every
        # module (~35 ms, while streams are still open); later calls take ~2 ms.
        inspect.stack()
        self._load_started_cpu_s = time.process_time()
        self._load_started_wall_s = time.time()

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Token counts of output texts, in a native thread (the tokenizer releases the GIL)."""
        return gevent.get_hub().threadpool.apply(count_tokens_batch, (self.tokenizer, texts))

    # --- during load -----------------------------------------------------------------

    def next_user_number(self) -> int:
        return next(self._user_numbers)

    def acquire_permit(self) -> Permit | None:
        """In a sweep, wait for the master's permit to send one request; None in a plain run."""
        if not self.options.stages:
            return None
        ask_id = next(self._ask_numbers)
        result: AsyncResult = AsyncResult()
        self._asks[ask_id] = result
        self._send(WANT, {"ask": ask_id})
        try:
            return Permit.from_wire(result.get())
        except BaseException:  # the user was stopped while waiting (GreenletExit)
            if self._asks.pop(ask_id, None) is not None:
                self._send(CANCEL, {"ask": ask_id})
            raise

    def _on_grant(self, environment: Environment, msg: Message) -> None:
        result = self._asks.pop(msg.data["ask"], None)
        if result is None:
            self._send(RETURN, {"permit": msg.data["permit"]})  # its user is gone: back to the master
        else:
            result.set(msg.data["permit"])

    def take_payload(self) -> Payload:
        assert self.pool is not None, "prepare() runs before users spawn"
        return self.pool.take()

    def new_record(self, user: int, payload: Payload, permit: Permit | None) -> RequestRecord:
        request_id = f"{self.run_tag}-{self.worker_index}-{next(self._request_numbers)}"
        return RequestRecord(request_id=request_id, stage=permit.stage if permit else 0, worker=self.worker_index,
                             user=user, t_send=0.0, expected_text_tokens=payload.expected_text_tokens,
                             warmup=permit.warmup if permit else False)  # fmt: skip

    def finish(self, record: RequestRecord, permit: Permit | None) -> None:
        """Report the request to Locust once, keep it locally (workers) and send it to the coordinator."""
        error = record.error
        self.environment.events.request.fire(
            request_type="POST",
            name=self.options.api_path,
            response_time=(record.duration_s or 0.0) * 1000,
            response_length=record.completion_tokens or 0,
            exception=FailedRequest(error["reason"]) if error else None,
            context={},
            response=None,
        )
        as_dict = record.to_dict()
        if self.writer is not None:
            self.writer.write_dict(as_dict)
        message: RecordMessage = {"record": as_dict, "permit": permit.to_wire() if permit else None,
                                   "cpu_s": time.process_time()}  # fmt: skip
        self._send(RECORD, message)

    def _send(self, message_type: str, data: Any) -> None:
        runner = self.environment.runner
        assert runner is not None
        runner.send_message(message_type, data)

    # --- after load ------------------------------------------------------------------

    def client_usage(self) -> dict[str, float]:
        """CPU this load-generating process used since its pool was ready (all threads)."""
        cpu_s = time.process_time() - self._load_started_cpu_s
        wall_s = time.time() - self._load_started_wall_s
        return {"cpu_s": round(cpu_s, 3), "wall_s": round(wall_s, 3),
                "cpu_percent": round(100 * cpu_s / wall_s, 1) if wall_s > 0 else 0.0}  # fmt: skip

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def check_prompt_with_server(options: LoadOptions, payload: Payload) -> dict[str, Any]:
    """Count one prompt with the server's /tokenize (vLLM has it); a mismatch is logged.

    Returns {"expected", "server", "match"}, or {"skipped": why} when the server has no
    /tokenize or cannot be reached (the load itself will say more).
    """
    body = json.dumps({"model": options.model, "messages": [{"role": "user", "content": payload.text}],
                       "add_generation_prompt": True}).encode()  # fmt: skip
    headers = {"Content-Type": "application/json"}
    if options.api_key:
        headers["Authorization"] = f"Bearer {options.api_key}"
    try:
        with urllib3.PoolManager(retries=False, timeout=TOKENIZE_TIMEOUT_S) as http:
            response = http.request("POST", options.host + TOKENIZE_PATH, body=body, headers=headers)
    except urllib3.exceptions.HTTPError as exc:
        return {"skipped": f"{type(exc).__name__}"}
    if response.status != 200:
        return {"skipped": f"/tokenize answered HTTP {response.status}"}
    try:
        count = int(json.loads(response.data)["count"])
    except (ValueError, KeyError, TypeError):
        return {"skipped": "/tokenize answered without a count"}
    match = count == payload.expected_text_tokens
    if not match:
        logger.warning("omniload: the server counts %d tokens in a prompt built as %d; is --tokenizer-path "
                       "the served model's tokenizer?", count, payload.expected_text_tokens)  # fmt: skip
    return {"expected": payload.expected_text_tokens, "server": count, "match": match}
