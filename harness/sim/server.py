"""The simulated vLLM OpenAI-compatible server (aiohttp).

Routes: POST /v1/chat/completions (stream and not), here; GET /v1/models, /health,
/version, /metrics and POST /tokenize in harness/sim/routes.py. Unknown routes answer
FastAPI's `{"detail": "Not Found"}`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from harness.jsonl import JsonlWriter
from harness.playback import playback
from harness.sim.answers import AnswerKey
from harness.sim.arrival import ARRIVAL_KEY, stamp_arrival
from harness.sim.config import SimConfig
from harness.sim.engine import BatchingEngine, Engine, FixedEngine, sleep_until
from harness.sim.errors import SimRequestError, error_body, error_response
from harness.sim.faults import FAULT_HEADER, TALKER_KINDS, Fault, FaultPicker
from harness.sim.framing import DONE_EVENT, StreamFramer, completion_body, error_event
from harness.sim.groundtruth import GroundTruthRecord, wall_from_perf
from harness.sim.metrics import SimMetrics
from harness.sim.parsing import body_digest, count_and_hash, parse_and_count, text_digest
from harness.sim.plan import event_ends
from harness.sim.prefixcache import BLOCK_TOKENS, PrefixCache
from harness.sim.request import ChatRequest, parse_chat_request
from harness.sim.routes import PlainRoutes
from harness.sim.sequence import Sequence
from harness.sim.talker import SAMPLE_RATE_HZ as TALKER_RATE_HZ
from harness.sim.talker import AudioFramer, SpeechRequest, Voice, chunk_samples
from harness.sim.text import OutputVocabulary
from harness.tokenizer import ChatRenderer, load_tokenizer

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
        self.ground_truth = JsonlWriter(config.ground_truth) if config.ground_truth else None
        self.renderer = ChatRenderer(self.tokenizer)
        self.answers = AnswerKey(config.answer_key, config.answer_accuracy) if config.answer_key else None
        self._requests_seen = 0
        self.prefix_cache = PrefixCache(config.kv_cache_tokens // BLOCK_TOKENS) if config.prefix_caching else None
        self._cache_tasks: set[asyncio.Task[None]] = set()
        self.voice = Voice() if config.talker.enabled else None  # --talker: the looped voice it speaks with
        self._talking = 0  # answers being spoken now (each slows the talker: --talker-rtf-per-seq)
        self.engine: Engine
        if config.fixed_ttft_ms is not None and config.fixed_itl_ms is not None:
            self.engine = FixedEngine(
                config.fixed_ttft_ms / 1000,
                config.fixed_itl_ms / 1000,
                self.metrics,
                config.jitter_ms / 1000,
                config.seed,
            )
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
            middlewares=[
                stamp_arrival,
                _json_http_errors,
                *([_require_api_key(self.config.api_key)] if self.config.api_key else []),
            ],
        )
        app.router.add_post("/v1/chat/completions", self.chat_completions)
        PlainRoutes(self.config, self.metrics, self.tokenizer, self.renderer).add_to(app)
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
            return error_response(400, f"{FAULT_HEADER}: {exc}")
        record["fault"] = fault.spec if fault else None
        try:
            chat, text_tokens, record["body_digest"], block_hashes = await self._parse(await request.read())
            prompt_tokens = text_tokens + chat.image_tokens + chat.audio_tokens + chat.video_tokens
            max_tokens = self._max_tokens(chat, prompt_tokens)
        except web.HTTPRequestEntityTooLarge as exc:
            record["status"] = 413
            return error_response(413, f"Request body too large: {exc.text}")
        except SimRequestError as exc:
            record["status"] = exc.status
            return error_response(exc.status, exc.message, exc.param)
        record["vllm_fields"] = list(chat.vllm_fields)
        record["messages"] = [[message["role"], text_digest(message["content"])] for message in chat.text_messages]
        record["messages_digest"] = chat.messages_digest
        record["sampling"] = {
            "max_tokens": chat.max_tokens,
            "min_tokens": chat.min_tokens,
            "ignore_eos": chat.ignore_eos,
            "stream": chat.stream,
        }
        if self.config.compat == "openai" and chat.vllm_fields:  # FastAPI's answer to unknown fields
            record["status"] = 422
            fields = "{" + ", ".join(repr(name) for name in chat.vllm_fields) + "}"
            return web.json_response({"detail": f"Unexpected fields in the request: {fields}"}, status=422)
        if self.config.compat == "openai" and chat.videos:
            # transformers serve 5.17 fails every video_url (checked on the GPU machine): apply_chat_template
            # loads the clip's audio with librosa, which cannot read MP4 without torchcodec; the exception
            # reaches Starlette, which answers a plain-text 500
            record["status"] = 500
            return web.Response(status=500, text="Internal Server Error", content_type="text/plain")
        record["prompt_tokens"] = prompt_tokens
        record["text_tokens"] = text_tokens
        record["image_tokens"] = chat.image_tokens
        record["audio_tokens"] = chat.audio_tokens
        record["images"] = [[image.width_px, image.height_px, image.mode, image.format] for image in chat.images]
        record["video_tokens"] = chat.video_tokens
        record["video_track_tokens"] = chat.video_track_tokens
        record["videos"] = [
            [video.width_px, video.height_px, video.frames, video.audio_samples, digest]
            for video, digest in zip(chat.videos, chat.video_digests, strict=True)
        ]
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
        if fault is not None and fault.http_status is not None:
            return self._fault_response(fault, record)

        output_tokens, finish_reason = self._output_length(chat, max_tokens, fault)
        seed = chat.seed if chat.seed is not None else self.config.seed * 1_000_003 + self._requests_seen
        words = self.vocabulary.sample(output_tokens, seed)
        answer = self.answers.answer(chat.text_messages[-1]["content"]) if self.answers and chat.text_messages else None
        if answer is not None:  # an OmniBench question: the key's answer, as real tokens
            words = [
                self.tokenizer.decode([token]) for token in self.tokenizer.encode(answer, add_special_tokens=False)
            ]
            words, output_tokens, finish_reason = words[:max_tokens], min(len(words), max_tokens), "stop"
        seq = Sequence(request_id, prompt_tokens, output_tokens, received_perf)
        if self.prefix_cache is not None:
            seq.cached_tokens = self.prefix_cache.cached_tokens(block_hashes, prompt_tokens)
            self._cache_on_first_token(seq, block_hashes)
        record["cached_tokens"] = seq.cached_tokens
        exchange = Exchange(request, chat, seq, words, finish_reason, fault, f"chatcmpl-{uuid.uuid4().hex}", record)
        self.engine.add(seq)
        try:
            if chat.stream:
                return await self._stream(exchange)
            return await self._whole(exchange)
        finally:
            self.engine.finish(seq)

    def _cache_on_first_token(self, seq: Sequence, block_hashes: list[bytes]) -> None:
        """The request's blocks enter the prefix cache once its prefill is done (its first token out)."""
        cache = self.prefix_cache
        assert cache is not None

        async def insert() -> None:
            await self.engine.wait_for(seq, 1)
            cache.insert(block_hashes)

        task = asyncio.get_running_loop().create_task(insert())
        self._cache_tasks.add(task)
        task.add_done_callback(self._cache_tasks.discard)

    async def _parse(self, body: bytes) -> tuple[ChatRequest, int, str, list[bytes]]:
        """The request and its text tokens. Large (media) bodies are parsed in a parser
        process; small ones here, with only the tokenizing in a thread, since a process
        round trip costs more than parsing a few KB."""
        loop = asyncio.get_running_loop()
        if len(body) > INLINE_PARSE_MAX_BYTES:
            return await loop.run_in_executor(self._parser_pool, parse_and_count, body, (self.config.model,))
        chat = parse_chat_request(body, (self.config.model,))
        tokens, hashes = await loop.run_in_executor(self._token_threads, count_and_hash, self.renderer, chat)
        return chat, tokens, body_digest(body), hashes

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
        return error_response(status, message, headers=headers)

    async def _stream(self, exchange: Exchange) -> web.StreamResponse:
        request, seq, fault, record = exchange.request, exchange.seq, exchange.fault, exchange.record
        speech = exchange.chat.speech if self.voice is not None else None  # --talker, and audio asked for
        framer = StreamFramer(
            exchange.completion_id,
            exchange.chat.model,
            modality=speech is not None and speech.shape == "vllm-omni",
            transcript=speech is not None and speech.shape == "openai",
        )
        talking: asyncio.Task[bool] | None = None
        response = web.StreamResponse(headers={"Content-Type": SSE_CONTENT_TYPE, REQUEST_ID_HEADER: seq.request_id})
        keep_events = self.config.ground_truth_events
        event_perf: list[float] = []
        event_lag_s: list[float] = []
        reasoning_tokens = min(self.config.reasoning_tokens, seq.output_tokens)
        fault_at = (
            fault.at_token if fault is not None and fault.at_token > 0 and fault.kind not in TALKER_KINDS else None
        )
        plain = self.config.compat == "openai"  # usage in the finish event, always; no [DONE]
        sent = events = 0
        previous_perf: float | None = None  # when the previous event's last token was due
        first_sent_perf: float | None = None
        last_sent_perf: float | None = None
        if request.version >= (1, 1):
            response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            await response.write(framer.role_event())
            send = _raw_sender(request, response)
            for event_end in event_ends(seq.output_tokens, self.config.stream_interval, (reasoning_tokens, fault_at)):
                _, scheduled_perf = await self.engine.wait_for(seq, event_end)
                last = event_end == seq.output_tokens
                send(
                    framer.delta_event(
                        "".join(exchange.words[sent:event_end]),
                        exchange.finish_reason if last else None,
                        reasoning=sent < reasoning_tokens,
                        usage_tokens=(seq.prompt_tokens, event_end, self._reported_cached(seq))
                        if last and plain
                        else None,
                    )
                )
                last_sent_perf = time.perf_counter()
                if first_sent_perf is None:
                    first_sent_perf = last_sent_perf
                    if speech is not None:  # the talker starts once the thinker's text has begun
                        talking = asyncio.get_running_loop().create_task(
                            self._talk(exchange, speech, send, framer.head, first_sent_perf)
                        )
                self.metrics.on_event(seq, event_end - sent, scheduled_perf, previous_perf)
                if keep_events:
                    event_perf.append(last_sent_perf)
                    event_lag_s.append(last_sent_perf - scheduled_perf)
                sent, events, previous_perf = event_end, events + 1, scheduled_perf
                if sent == fault_at and not last:
                    assert fault is not None
                    if await self._stream_fault(exchange, response, framer):
                        return response
            if talking is not None and not await talking:  # the audio was cut: the connection is gone
                return response
            record["finish_reason"] = exchange.finish_reason
            record["answer_digest"] = text_digest("".join(exchange.words[reasoning_tokens:sent]))
            if exchange.chat.include_usage and not plain:
                await response.write(framer.usage_event(seq.prompt_tokens, sent, self._reported_cached(seq)))
            if not plain and (fault is None or fault.kind != "no_done"):
                await response.write(DONE_EVENT)
            await response.write_eof()
            self.metrics.on_finished(seq, exchange.finish_reason)
        except (ConnectionResetError, asyncio.CancelledError):
            self._end_early(exchange, "abort")
        finally:
            if talking is not None and not talking.done():
                talking.cancel()
            record["completion_tokens"] = sent
            record["events"] = events
            if first_sent_perf is not None and last_sent_perf is not None:
                record["first_token_at"] = wall_from_perf(first_sent_perf)
                record["last_token_at"] = wall_from_perf(last_sent_perf)
            if keep_events:
                # Integer microseconds: several times cheaper to serialize than floats.
                record["event_offset_us"] = [int((t - seq.received_perf) * 1e6) for t in event_perf]
                record["event_lag_us"] = [int(lag * 1e6) for lag in event_lag_s]
        return response

    async def _talk(
        self, exchange: Exchange, speech: SpeechRequest, send: Callable[[bytes], None], head: bytes, start_perf: float
    ) -> bool:
        """Speak the answer beside its text (harness/sim/talker.py); False when a fault cut the connection."""
        config, seq, record = self.config.talker, exchange.seq, exchange.record
        assert self.voice is not None
        fault = exchange.fault if exchange.fault is not None and exchange.fault.kind in TALKER_KINDS else None
        framer = AudioFramer(head, speech, seq.prompt_tokens)
        chunks: list[list[int]] = []
        record["speech_shape"] = speech.shape
        record["audio_chunks"] = chunks
        due_perf = start_perf + config.ttfa_ms / 1000
        self._talking += 1
        try:
            for number, samples in enumerate(chunk_samples(seq.output_tokens, config), start=1):
                if fault is not None and fault.kind == "talker_stall" and number == fault.at_token:
                    due_perf += fault.seconds
                await sleep_until(due_perf)
                send(framer.event(self.voice.next_pcm(samples)))
                sent_us = int((time.perf_counter() - seq.received_perf) * 1e6)
                transport = exchange.request.transport
                held = transport.get_write_buffer_size() if transport is not None else 0
                chunks.append([sent_us, samples, held])  # held: bytes the client's full socket made us keep
                if fault is not None and fault.kind == "audio_cut" and number == fault.at_token:
                    self._end_early(exchange, "abort", drop_connection=True)
                    return False
                rtf = config.rtf + config.rtf_per_seq * (self._talking - 1)
                due_perf += samples / TALKER_RATE_HZ * rtf
        except ConnectionResetError:
            self._end_early(exchange, "abort")
            return False
        finally:
            self._talking -= 1
            heard = playback([chunk[0] / 1e6 for chunk in chunks], [chunk[1] / TALKER_RATE_HZ for chunk in chunks])
            if heard.ttfa_s is not None:
                record["ttfa_s"] = heard.ttfa_s
            record["audio_s"] = sum(chunk[1] for chunk in chunks) / TALKER_RATE_HZ
            record["underruns"], record["underrun_s"] = heard.underruns, heard.underrun_s
        return True

    def _reported_cached(self, seq: Sequence) -> int | None:
        """Cached tokens as usage reports them: only with --enable-prompt-tokens-details."""
        return seq.cached_tokens if self.config.prompt_tokens_details else None

    def _end_early(self, exchange: Exchange, reason: str, drop_connection: bool = False) -> None:
        """The one way an answer ends before its finish: "abort" (the client left, or a fault cut it; with
        `drop_connection` the fault drops it) or "error"; recorded in the ground truth and vLLM's metrics."""
        if drop_connection and exchange.request.transport is not None:
            exchange.request.transport.abort()
        exchange.record["finish_reason"] = reason
        self.metrics.on_finished(exchange.seq, reason)

    async def _stream_fault(self, exchange: Exchange, response: web.StreamResponse, framer: StreamFramer) -> bool:
        """Apply a mid-stream fault; True when the stream ends here."""
        fault = exchange.fault
        assert fault is not None
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
            self._end_early(exchange, "error")
            return True
        if fault.kind == "cut":
            await response.write_eof()
            self._end_early(exchange, "abort")
            return True
        if fault.kind == "disconnect":
            self._end_early(exchange, "abort", drop_connection=True)
            return True
        return False

    async def _whole(self, exchange: Exchange) -> web.StreamResponse:
        request, seq, fault, record = exchange.request, exchange.seq, exchange.fault, exchange.record
        total = seq.output_tokens
        await self.engine.wait_for(seq, total)
        if fault is not None and fault.kind == "disconnect" and request.transport is not None:
            self._end_early(exchange, "abort", drop_connection=True)
            return web.Response(status=499)
        if fault is not None and fault.kind == "error_event":
            record["status"] = 500
            self._end_early(exchange, "error")
            return error_response(500, "Internal server error (simulated)")
        reasoning_tokens = min(self.config.reasoning_tokens, total)
        words = exchange.words
        body = completion_body(
            exchange.completion_id,
            self.config.model,
            "".join(words[reasoning_tokens:]),
            "".join(words[:reasoning_tokens]) if reasoning_tokens else None,
            exchange.finish_reason,
            seq.prompt_tokens,
            total,
            self._reported_cached(seq),
        )
        record["answer_digest"] = text_digest("".join(words[reasoning_tokens:]))
        response = web.json_response(body, headers={REQUEST_ID_HEADER: seq.request_id})
        record["completion_tokens"], record["events"] = total, 1  # generated, whether or not the client stays
        try:
            await response.prepare(request)
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):  # the client left before the answer went out
            self._end_early(exchange, "abort")
            return response
        sent_wall = wall_from_perf(time.perf_counter())
        self.metrics.on_whole(seq, exchange.finish_reason)
        record["first_token_at"] = record["last_token_at"] = sent_wall
        record["finish_reason"] = exchange.finish_reason
        return response


@dataclass
class Exchange:
    """One chat completion being answered: the request, what the engine makes of it, its ground truth."""

    request: web.Request
    chat: ChatRequest
    seq: Sequence
    words: list[str]  # the output, one string per token
    finish_reason: str
    fault: Fault | None
    completion_id: str
    record: GroundTruthRecord  # filled as the answer goes out; written when it ends


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


@web.middleware
async def _json_http_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """FastAPI-style JSON bodies for routing errors (vLLM's server is FastAPI)."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return web.json_response({"detail": "Not Found"}, status=404)
    except web.HTTPMethodNotAllowed:
        return web.json_response({"detail": "Method Not Allowed"}, status=405)


def _require_api_key(api_key: str) -> Any:
    """vLLM's --api-key: every /v1 route needs `Authorization: Bearer KEY`, else 401."""
    expected = f"Bearer {api_key}"

    @web.middleware
    async def check(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/v1") and request.headers.get("Authorization") != expected:
            return web.json_response({"error": "Unauthorized"}, status=401)
        return await handler(request)

    return check
