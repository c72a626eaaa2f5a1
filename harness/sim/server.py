"""The simulated vLLM OpenAI-compatible server (aiohttp).

Routes: POST /v1/chat/completions (stream and not), GET /v1/models, POST /tokenize,
GET /health, GET /metrics. Unknown routes answer FastAPI's `{"detail": "Not Found"}`.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from collections.abc import Callable
from typing import Any

from aiohttp import web

from harness.sim.config import SimConfig
from harness.sim.engine import BatchingEngine, Engine, FixedEngine, Sequence
from harness.sim.errors import SimRequestError, error_body
from harness.sim.faults import FAULT_HEADER, Fault, FaultPicker
from harness.sim.framing import DONE_EVENT, StreamFramer, completion_body, error_event
from harness.sim.groundtruth import GroundTruthRecord, GroundTruthWriter, wall_from_perf
from harness.sim.metrics import SimMetrics
from harness.sim.request import ChatRequest, parse_chat_request
from harness.sim.text import OutputVocabulary
from harness.sim.answers import AnswerKey
from harness.sim.arrival import ARRIVAL_KEY, stamp_arrival
from harness.sim.parsing import parse_and_count, render_text
from harness.tokenizer import ChatRenderer, count_tokens_batch, load_tokenizer

REQUEST_ID_HEADER = "X-Request-Id"
SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
TOKENIZER_THREADS = 2
# Bodies above this go to a parser process (images: JSON and base64 work of ~6 ms/MB).
INLINE_PARSE_MAX_BYTES = 64 * 1024



class SimServer:
    """Holds the engine, tokenizer, metrics and ground truth of one simulator."""

    def __init__(self, config: SimConfig, parser_pool: ProcessPoolExecutor) -> None:
        self.config = config
        self._parser_pool = parser_pool
        self._token_threads = ThreadPoolExecutor(TOKENIZER_THREADS, thread_name_prefix="sim-tokenize")
        self.tokenizer = load_tokenizer(config.tokenizer_path)
        self.vocabulary = OutputVocabulary(self.tokenizer)
        self.metrics = SimMetrics(config.model)
        self.faults = FaultPicker(config.faults, config.fault_rate, config.seed)
        self.ground_truth = GroundTruthWriter(config.ground_truth) if config.ground_truth else None
        self.renderer = ChatRenderer(self.tokenizer)
        self.answers = AnswerKey(config.answer_key, config.answer_accuracy) if config.answer_key else None
        self._requests_seen = 0
        self.engine: Engine
        if config.fixed_ttft_ms is not None and config.fixed_itl_ms is not None:
            self.engine = FixedEngine(config.fixed_ttft_ms / 1000, config.fixed_itl_ms / 1000, self.metrics)
        else:
            self.engine = BatchingEngine(
                config.max_num_seqs,
                config.prefill_tokens_per_s,
                config.decode_ms,
                config.decode_ms_per_seq,
                config.kv_cache_tokens,
                self.metrics,
            )

    def build_app(self) -> web.Application:
        app = web.Application(
            client_max_size=int(self.config.max_body_mb * 1024 * 1024),
            middlewares=[stamp_arrival, _json_http_errors],
        )
        app.router.add_post("/v1/chat/completions", self.chat_completions)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/tokenize", self.tokenize)
        app.router.add_get("/health", self.health)
        app.router.add_get("/metrics", self.metrics_page)
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)
        return app

    async def _start(self, _app: web.Application) -> None:
        if isinstance(self.engine, BatchingEngine):
            self.engine.start()

    async def _stop(self, _app: web.Application) -> None:
        if isinstance(self.engine, BatchingEngine):
            await self.engine.stop()
        if self.ground_truth is not None:
            self.ground_truth.close()
        self._parser_pool.shutdown(wait=False, cancel_futures=True)
        self._token_threads.shutdown(wait=False)

    # --- plain endpoints -------------------------------------------------------------

    async def health(self, _request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def metrics_page(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(), content_type="text/plain", charset="utf-8")

    async def models(self, _request: web.Request) -> web.Response:
        created_s = int(time.time())
        card = {
            "id": self.config.model,
            "object": "model",
            "created": created_s,
            "owned_by": "vllm",
            "root": self.config.model,
            "parent": None,
            "max_model_len": self.config.max_model_len,
        }
        return web.json_response({"object": "list", "data": [card]})

    async def tokenize(self, request: web.Request) -> web.Response:
        """vLLM's /tokenize: `prompt` or `messages` in; `count`, `max_model_len`, `tokens` out.

        For messages only the text is tokenized (media placeholders are not expanded).
        """
        try:
            payload = json.loads(await request.read())
            if not isinstance(payload, dict):
                raise SimRequestError(400, "Request body must be a JSON object")
            if "messages" in payload:
                chat = parse_chat_request(json.dumps({"messages": payload["messages"]}).encode(), (self.config.model,))
                text = render_text(self.renderer, chat)
            elif isinstance(payload.get("prompt"), str):
                text = payload["prompt"]
            else:
                raise SimRequestError(400, "Either prompt or messages must be given", "prompt")
        except ValueError as exc:
            return _error_response(400, f"JSON decode error: {exc}")
        except SimRequestError as exc:
            return _error_response(exc.status, exc.message, exc.param)
        token_ids = self.tokenizer.backend_tokenizer.encode(text, add_special_tokens=False).ids
        return web.json_response(
            {"count": len(token_ids), "max_model_len": self.config.max_model_len, "tokens": token_ids,
             "token_strs": None}  # fmt: skip
        )

    # --- chat completions ------------------------------------------------------------

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        received_perf = request[ARRIVAL_KEY]
        self._requests_seen += 1
        request_id = request.headers.get(REQUEST_ID_HEADER) or f"sim-{uuid.uuid4().hex}"
        record: GroundTruthRecord = {
            "request_id": request_id,
            "received_at": wall_from_perf(received_perf),
            "first_token_at": None,
            "last_token_at": None,
            "prompt_tokens": 0,
            "text_tokens": 0,
            "image_tokens": 0,
            "audio_tokens": 0,
            "completion_tokens": 0,
            "events": 0,
            "finish_reason": None,
            "fault": None,
            "status": 200,
        }
        try:
            return await self._chat_completions(request, request_id, received_perf, record)
        finally:
            if self.ground_truth is not None:
                self.ground_truth.write(record)

    async def _chat_completions(
        self, request: web.Request, request_id: str, received_perf: float, record: GroundTruthRecord
    ) -> web.StreamResponse:
        try:
            fault = self.faults.pick(request.headers.get(FAULT_HEADER))
        except ValueError as exc:
            record["status"] = 400
            return _error_response(400, f"{FAULT_HEADER}: {exc}")
        record["fault"] = fault.spec if fault else None
        try:
            chat, text_tokens = await self._parse(await request.read())
            prompt_tokens = text_tokens + chat.image_tokens + chat.audio_tokens
            max_tokens = self._max_tokens(chat, prompt_tokens)
        except web.HTTPRequestEntityTooLarge as exc:
            record["status"] = 413
            return _error_response(413, f"Request body too large: {exc.text}")
        except SimRequestError as exc:
            record["status"] = exc.status
            return _error_response(exc.status, exc.message, exc.param)
        record.update(
            prompt_tokens=prompt_tokens,
            text_tokens=text_tokens,
            image_tokens=chat.image_tokens,
            audio_tokens=chat.audio_tokens,
            images=[[image.width_px, image.height_px, image.mode, image.format] for image in chat.images],
        )
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
        if fault is not None and fault.http_status is not None:
            return self._fault_response(fault, record)

        output_tokens, finish_reason = self._output_length(chat, max_tokens, fault)
        seed = chat.seed if chat.seed is not None else self.config.seed * 1_000_003 + self._requests_seen
        words = self.vocabulary.sample(output_tokens, seed)
        answer = self.answers.answer(chat.text_messages[-1]["content"]) if self.answers and chat.text_messages else None
        if answer is not None:  # an OmniBench question: the key's answer, as real tokens
            words = [self.tokenizer.decode([token]) for token in self.tokenizer.encode(answer, add_special_tokens=False)]
            words, output_tokens, finish_reason = words[:max_tokens], min(len(words), max_tokens), "stop"
        seq = Sequence(request_id, prompt_tokens, output_tokens, received_perf)
        self.engine.add(seq)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        try:
            if chat.stream:
                return await self._stream(request, chat, seq, words, finish_reason, fault, completion_id, record)
            return await self._whole(request, seq, words, finish_reason, fault, completion_id, record)
        finally:
            self.engine.finish(seq)

    async def _parse(self, body: bytes) -> tuple[ChatRequest, int]:
        """The request and its text tokens. Large (media) bodies are parsed in a parser
        process; small ones here, with only the tokenizing in a thread, since a process
        round trip costs more than parsing a few KB."""
        loop = asyncio.get_running_loop()
        if len(body) > INLINE_PARSE_MAX_BYTES:
            return await loop.run_in_executor(self._parser_pool, parse_and_count, body, (self.config.model,))
        chat = parse_chat_request(body, (self.config.model,))
        text = render_text(self.renderer, chat)
        counts = await loop.run_in_executor(self._token_threads, count_tokens_batch, self.tokenizer, [text])
        return chat, counts[0]

    def _max_tokens(self, chat: ChatRequest, prompt_tokens: int) -> int:
        limit = self.config.max_model_len
        max_tokens = chat.max_tokens if chat.max_tokens is not None else limit - prompt_tokens
        if prompt_tokens + max_tokens > limit or max_tokens < 1:
            raise SimRequestError(
                400,
                f"This model's maximum context length is {limit} tokens. However, you requested "
                f"{prompt_tokens + max_tokens} tokens ({prompt_tokens} in the messages, {max_tokens} "
                f"in the completion). Please reduce the length of the messages or completion.",
                "max_tokens",
            )
        return max_tokens

    def _output_length(self, chat: ChatRequest, max_tokens: int, fault: Fault | None) -> tuple[int, str]:
        """Tokens to generate and the finish reason, as vLLM decides with min_tokens/ignore_eos."""
        if fault is not None and fault.kind == "short":
            return max(1, min(fault.at_token, max_tokens)), "stop"
        if chat.ignore_eos:
            return max_tokens, "length"
        natural = max(chat.min_tokens, self.config.natural_output_tokens, 1)
        if natural >= max_tokens:
            return max_tokens, "length"
        return natural, "stop"

    def _fault_response(self, fault: Fault, record: GroundTruthRecord) -> web.Response:
        status = fault.http_status or 500
        record["status"] = status
        headers = {"Retry-After": str(int(fault.seconds))} if status == 429 else None
        message = {429: "Too many requests (simulated)", 503: "Service unavailable (simulated)"}.get(
            status, "Internal server error (simulated)"
        )
        return _error_response(status, message, headers=headers)

    async def _stream(
        self,
        request: web.Request,
        chat: ChatRequest,
        seq: Sequence,
        words: list[str],
        finish_reason: str,
        fault: Fault | None,
        completion_id: str,
        record: GroundTruthRecord,
    ) -> web.StreamResponse:
        framer = StreamFramer(completion_id, chat.model)
        response = web.StreamResponse(headers={"Content-Type": SSE_CONTENT_TYPE, REQUEST_ID_HEADER: seq.request_id})
        keep_events = self.config.ground_truth_events
        event_perf: list[float] = []
        event_lag_s: list[float] = []
        total = seq.output_tokens
        reasoning_tokens = min(self.config.reasoning_tokens, total)
        fault_at = fault.at_token if fault is not None and fault.at_token > 0 else None
        sent = 0
        previous_perf = 0.0
        first_sent_perf: float | None = None
        last_sent_perf: float | None = None
        if request.version >= (1, 1):
            response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            await response.write(framer.role_event())
            send = _raw_sender(request, response)
            while sent < total:
                # Events never straddle the reasoning/content boundary or a fault's token.
                wanted = min(sent + self.config.stream_interval, total)
                for boundary in (reasoning_tokens, fault_at):
                    if boundary is not None and sent < boundary < wanted:
                        wanted = boundary
                ready, scheduled_perf = await self.engine.wait_for(seq, wanted)
                if sent < reasoning_tokens:
                    ready = min(ready, reasoning_tokens)
                last = ready == total
                send(framer.delta_event("".join(words[sent:ready]), finish_reason if last else None,
                                        reasoning=sent < reasoning_tokens))  # fmt: skip
                last_sent_perf = time.perf_counter()
                if first_sent_perf is None:
                    first_sent_perf = last_sent_perf
                    self.metrics.observe_first_token(scheduled_perf - seq.received_perf, seq.prompt_tokens)
                    self.metrics.observe_tokens(ready, 0, 0.0)
                else:
                    tokens = ready - sent
                    self.metrics.observe_tokens(tokens, tokens, (scheduled_perf - previous_perf) / tokens)
                if keep_events:
                    event_perf.append(last_sent_perf)
                    event_lag_s.append(last_sent_perf - scheduled_perf)
                previous_perf, sent = scheduled_perf, ready
                if fault_at is not None and sent == fault_at and not last:
                    assert fault is not None
                    if await self._stream_fault(request, response, fault, framer, record, seq):
                        return response
            record["finish_reason"] = finish_reason
            if chat.include_usage:
                await response.write(framer.usage_event(seq.prompt_tokens, sent))
            if fault is None or fault.kind != "no_done":
                await response.write(DONE_EVENT)
            await response.write_eof()
            self._observe_finished(seq, finish_reason)
        except (ConnectionResetError, asyncio.CancelledError):
            record["finish_reason"] = "abort"
            self._observe_finished(seq, "abort")
        finally:
            record["completion_tokens"] = sent
            record["events"] = len(event_perf) if keep_events else _events_for(sent, seq, self.config, fault_at)
            if first_sent_perf is not None and last_sent_perf is not None:
                record["first_token_at"] = wall_from_perf(first_sent_perf)
                record["last_token_at"] = wall_from_perf(last_sent_perf)
            if keep_events:
                # Integer microseconds: several times cheaper to serialize than floats.
                record["event_offset_us"] = [int((t - seq.received_perf) * 1e6) for t in event_perf]
                record["event_lag_us"] = [int(lag * 1e6) for lag in event_lag_s]
        return response

    async def _stream_fault(
        self,
        request: web.Request,
        response: web.StreamResponse,
        fault: Fault,
        framer: StreamFramer,
        record: GroundTruthRecord,
        seq: Sequence,
    ) -> bool:
        """Apply a mid-stream fault; True when the stream ends here."""
        if fault.kind == "stall":
            await asyncio.sleep(fault.seconds)
            return False
        if fault.kind == "malformed":
            await response.write(framer.malformed_event())
            return False
        if fault.kind == "error_event":
            await response.write(error_event(error_body(500, "Internal server error (simulated)")))
            await response.write(DONE_EVENT)
            await response.write_eof()
            record["finish_reason"] = "error"
            self._observe_finished(seq, "error")
            return True
        if fault.kind == "disconnect":
            if request.transport is not None:
                request.transport.abort()
            record["finish_reason"] = "abort"
            self._observe_finished(seq, "abort")
            return True
        return False

    def _observe_finished(self, seq: Sequence, finish_reason: str) -> None:
        first_perf = seq.first_token_perf
        e2e_s = seq.ready_perf - seq.received_perf if first_perf is not None else 0.0
        tpot_s = None
        if first_perf is not None and seq.tokens_ready > 1:
            tpot_s = (seq.ready_perf - first_perf) / (seq.tokens_ready - 1)
        self.metrics.observe_finished(finish_reason, e2e_s, tpot_s)

    async def _whole(
        self,
        request: web.Request,
        seq: Sequence,
        words: list[str],
        finish_reason: str,
        fault: Fault | None,
        completion_id: str,
        record: GroundTruthRecord,
    ) -> web.StreamResponse:
        total = seq.output_tokens
        ready, scheduled_perf = await self.engine.wait_for(seq, total)
        if fault is not None and fault.kind == "disconnect" and request.transport is not None:
            request.transport.abort()
            record["finish_reason"] = "abort"
            self._observe_finished(seq, "abort")
            return web.Response(status=499)
        if fault is not None and fault.kind == "error_event":
            record["status"] = 500
            record["finish_reason"] = "error"
            self._observe_finished(seq, "error")
            return _error_response(500, "Internal server error (simulated)")
        reasoning_tokens = min(self.config.reasoning_tokens, total)
        body = completion_body(
            completion_id,
            self.config.model,
            "".join(words[reasoning_tokens:]),
            "".join(words[:reasoning_tokens]) if reasoning_tokens else None,
            finish_reason,
            seq.prompt_tokens,
            total,
        )
        response = web.json_response(body, headers={REQUEST_ID_HEADER: seq.request_id})
        await response.prepare(request)
        await response.write_eof()
        sent_wall = wall_from_perf(time.perf_counter())
        self.metrics.observe_first_token(seq.first_token_perf - seq.received_perf if seq.first_token_perf else 0.0,
                                         seq.prompt_tokens)  # fmt: skip
        self.metrics.observe_tokens(total, total - 1, (scheduled_perf - (seq.first_token_perf or 0)) / max(1, total - 1))
        self._observe_finished(seq, finish_reason)
        record.update(first_token_at=sent_wall, last_token_at=sent_wall, completion_tokens=total, events=1,
                      finish_reason=finish_reason)  # fmt: skip
        return response


def _raw_sender(request: web.Request, response: web.StreamResponse) -> Callable[[bytes], None]:
    """A writer for stream events that goes straight to the transport.

    aiohttp's `StreamResponse.write` costs a coroutine and several calls per event; at
    thousands of events per second that is most of the simulator's CPU. The framing is
    the same: one HTTP chunk per event when the response is chunked (HTTP/1.1).
    """
    transport = request.transport
    chunked = response.chunked

    def send(data: bytes) -> None:
        if transport is None or transport.is_closing():
            raise ConnectionResetError("client went away")
        transport.write(b"%x\r\n%b\r\n" % (len(data), data) if chunked else data)

    return send


def _events_for(tokens_sent: int, seq: Sequence, config: SimConfig, fault_at: int | None) -> int:
    """Events used for `tokens_sent` tokens (without per-event records): one per interval,
    split at the reasoning boundary and a fault's token."""
    boundaries = sorted({0, tokens_sent} | {b for b in (min(config.reasoning_tokens, seq.output_tokens), fault_at)
                                            if b is not None and 0 < b < tokens_sent})  # fmt: skip
    interval = config.stream_interval
    return sum(-(-(high - low) // interval) for low, high in zip(boundaries, boundaries[1:]))


def _error_response(
    status: int, message: str, param: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(error_body(status, message, param), status=status, headers=headers)


@web.middleware
async def _json_http_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """FastAPI-style JSON bodies for routing errors (vLLM's server is FastAPI)."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return web.json_response({"detail": "Not Found"}, status=404)
    except web.HTTPMethodNotAllowed:
        return web.json_response({"detail": "Method Not Allowed"}, status=405)
