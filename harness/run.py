"""One load-generating process's run: its options, payload pool, records and stage.

Created when Locust starts (init event), prepared before users spawn (test_start), then
every finished request passes through `finish`: appended to requests.jsonl, reported
to Locust once with its full stream time, and added to the stage's statistics.
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

from harness.options import LoadOptions
from harness.payloads import Payload, PayloadPool, build_payloads
from harness.records import RecordWriter, RequestRecord
from harness.stats import StageAccumulator
from harness.summary import REQUESTS_FILE, RunSummary, format_stage_table, write_summary
from harness.tokenizer import count_tokens_batch, load_tokenizer

if TYPE_CHECKING:
    from locust.env import Environment

logger = logging.getLogger(__name__)

TOKENIZE_PATH = "/tokenize"
TOKENIZE_TIMEOUT_S = 10.0
# Each worker's prompts and images differ: its seed is offset by its index times this.
WORKER_SEED_STRIDE = 1_000_003


class FailedRequest(Exception):
    """What Locust sees for a failed request: the reason only (bounded error table)."""


class LoadRun:
    def __init__(self, environment: Environment, options: LoadOptions, worker_index: int = 0) -> None:
        self.environment = environment
        self.options = options
        self.worker_index = worker_index
        self.started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.run_tag = uuid.uuid4().hex[:8]
        self.pool: PayloadPool | None = None
        self.payload_info: dict[str, Any] = {}
        self.tokenize_check: dict[str, Any] = {}
        self.stage = StageAccumulator()
        self._request_numbers = itertools.count()
        self._user_numbers = itertools.count()
        os.makedirs(options.report_dir, exist_ok=True)
        self.writer = RecordWriter(os.path.join(options.report_dir, REQUESTS_FILE))
        self.tokenizer: Any = None
        self._load_started_cpu_s = 0.0
        self._load_started_wall_s = 0.0

    # --- before load -----------------------------------------------------------------

    def prepare(self) -> None:
        """Load the tokenizer, build the payload pool, check a prompt with the server."""
        started_s = time.perf_counter()
        self.tokenizer = load_tokenizer(self.options.tokenizer_path)
        seed = self.options.seed + self.worker_index * WORKER_SEED_STRIDE
        payloads = build_payloads(self.options, self.tokenizer, self.options.pool_size, seed, self.options.seed)
        self.pool = PayloadPool(payloads)
        build_s = time.perf_counter() - started_s
        self.payload_info = {
            "pool_size": len(payloads),
            "build_s": round(build_s, 3),
            "text_tokens": sorted({payload.expected_text_tokens for payload in payloads})[:10],
            "image_bytes_mean": sum(payload.image_bytes for payload in payloads) / len(payloads),
            "body_bytes_mean": sum(len(payload.body) for payload in payloads) / len(payloads),
        }
        logger.info("omniload: built %d payloads in %.1f s (mean body %.0f KB)", len(payloads), build_s,
                    self.payload_info["body_bytes_mean"] / 1024)  # fmt: skip
        self.tokenize_check = check_prompt_with_server(self.options, payloads[0])
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

    def take_payload(self) -> Payload:
        assert self.pool is not None, "prepare() runs before users spawn"
        return self.pool.take()

    def new_record(self, user: int, payload: Payload) -> RequestRecord:
        request_id = f"{self.run_tag}-{self.worker_index}-{next(self._request_numbers)}"
        return RequestRecord(request_id=request_id, stage=0, worker=self.worker_index, user=user, t_send=0.0,
                             expected_text_tokens=payload.expected_text_tokens)  # fmt: skip

    def finish(self, record: RequestRecord) -> None:
        """Keep the record (JSONL, stage statistics) and report it to Locust once."""
        as_dict = record.to_dict()
        self.writer.write(record)
        self.stage.add(as_dict)
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

    # --- after load ------------------------------------------------------------------

    def summarize(self) -> RunSummary:
        """Write summary.json and print the stage table; returns the summary."""
        if self.stage.parallel is None:  # a plain run: its concurrency is Locust's user count
            self.stage.parallel = getattr(self.environment.parsed_options, "num_users", None)
        stage = self.stage.summary()
        if self.pool is not None:
            self.payload_info["reused"] = self.pool.reused
        summary = RunSummary(
            model=self.options.model,
            started_at=self.started_at,
            config=self.options.public_config(),
            stages=[stage],
            payloads=self.payload_info,
            tokenize_check=self.tokenize_check,
            client=self.client_usage(),
        )
        path = write_summary(self.options.report_dir, summary)
        print("\nomniload stage summary\n" + format_stage_table([stage]))
        if self.pool is not None and self.pool.reused:
            print(f"note: {self.pool.reused} requests reused a payload (pool of {len(self.pool.payloads)}; "
                  f"raise --pool-size for unique prompts and images)")  # fmt: skip
        print(f"wrote {path} and {self.writer.path}\n")
        return summary

    def client_usage(self) -> dict[str, float]:
        """CPU this load-generating process used since its pool was ready (all threads)."""
        cpu_s = time.process_time() - self._load_started_cpu_s
        wall_s = time.time() - self._load_started_wall_s
        return {"cpu_s": round(cpu_s, 3), "wall_s": round(wall_s, 3),
                "cpu_percent": round(100 * cpu_s / wall_s, 1) if wall_s > 0 else 0.0}  # fmt: skip

    def close(self) -> None:
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
