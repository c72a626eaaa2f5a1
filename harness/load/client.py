"""The streaming chat client: one HTTP request, every SSE event stamped with its arrival.

Times are unix seconds: t_send from `time.time()` just before the request is written,
event arrivals from the kernel's receive timestamps (see harness/http1.py), so a busy
client process delays its bookkeeping but not its measurements. Every failure is
classified into a reason and kept in the record, never raised.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

from harness import safejson, wire
from harness.completions import MAX_MESSAGE_CHARS, error_message
from harness.load.http1 import ConnectionLost, HttpConnection, HttpProtocolError, ResponseParser, request_head
from harness.load.payloads import Payload
from harness.load.speech import AudioChunks
from harness.load.sse import SseReader, SseTooLong
from harness.load.stream import ChatStream, parse_completion
from harness.options import ConnectionSpec, PayloadSpec
from harness.playback import playback
from harness.records import RequestRecord, inter_token_latencies_s, time_per_output_token_s

REQUEST_ID_HEADER = "X-Request-Id"
USER_AGENT = "omniload"
# Most bytes of a non-streamed or error response body kept.
MAX_BODY_BYTES = 64 * 1024 * 1024
ERROR_BODY_LIMIT_BYTES = 65536

TokenCounter = Callable[[list[str]], list[int]]


class ChatClient:
    """One user's connection to the server (kept alive between requests)."""

    def __init__(self, connection: ConnectionSpec, payload_spec: PayloadSpec, count_tokens: TokenCounter) -> None:
        self.stream = payload_spec.stream
        self.min_tokens = payload_spec.enforced_min_tokens  # a plain server was never asked for a minimum
        self.max_tokens = payload_spec.max_tokens
        self.total_timeout_s = connection.total_timeout_s
        self.count_tokens = count_tokens
        url = urlsplit(connection.endpoint.chat_url)
        tls = url.scheme == "https"
        port = url.port or (443 if tls else 80)
        self.path = url.path
        self.host_header = url.netloc
        self.connection = HttpConnection(
            url.hostname or "", port, tls, connection.connect_timeout_s, connection.read_timeout_s
        )
        # sent every time
        self.headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **connection.endpoint.auth_headers(),
        }
        if self.stream:
            self.headers["Accept"] = "text/event-stream"
        self.last_answer = ""  # the last successful answer's content (a conversation's next turn resends it)
        self.speaks = payload_spec.speech.enabled  # --audio-output: an answer without audio is a failure

    def close(self) -> None:
        self.connection.close()

    def connect_ahead(self) -> None:
        """Open the connection now (a rate stage, before the due time); a failure shows at send."""
        try:
            self.connection.connect_ahead()
        except OSError:
            self.connection.close()  # send() connects again and classifies what happens

    def send(self, payload: Payload, record: RequestRecord) -> None:
        """Send one request and fill `record` with what happened. Raises only GreenletExit."""
        headers = {**self.headers, REQUEST_ID_HEADER: record.request_id}
        head = request_head("POST", self.path, self.host_header, headers, len(payload.body))
        parser = ResponseParser()
        try:
            for attempt in (1, 2):
                try:
                    self._exchange(head, payload, parser, record)
                    break
                except (ConnectionLost, ConnectionResetError, BrokenPipeError):
                    # A kept-alive connection the server had already closed: once, afresh.
                    self.connection.close()
                    if attempt == 2 or not self.connection.reused or parser.response.status:
                        raise
                    parser = ResponseParser()
        except TimeoutError as exc:
            record.fail(wire.TIMEOUT if self.connection.written else wire.CONNECT_ERROR, _message(exc))
        except ConnectionLost as exc:
            record.fail(wire.STREAM_TRUNCATED if parser.started else wire.CONNECT_ERROR, str(exc))
        except HttpProtocolError as exc:
            record.fail(wire.MALFORMED_EVENT, f"HTTP framing: {exc}")
        except SseTooLong as exc:
            record.fail(wire.MALFORMED_EVENT, str(exc))
        except OSError as exc:  # refused, reset, unreachable, DNS
            reason = wire.STREAM_TRUNCATED if parser.started else wire.CONNECT_ERROR
            record.fail(reason, _message(exc))
        except Exception as exc:  # a bug of ours: kept in the record, never a traceback per request
            record.fail(wire.CLIENT_ERROR, _message(exc))
        except BaseException:
            # The load test stopped this user mid-request (GreenletExit): keep the record.
            record.fail(wire.CANCELLED, "the load test stopped before the response ended")
            self._end(record)
            raise
        self._end(record)
        if not parser.response.complete or not parser.response.keep_alive or record.status != "ok":
            self.connection.close()

    def _end(self, record: RequestRecord) -> None:
        """The exchange is over, however it ended: its duration counts every wait."""
        if record.duration_s is None:
            record.duration_s = time.time() - record.t_send
        if record.status != "ok":
            self.connection.close()

    def _exchange(self, head: bytes, payload: Payload, parser: ResponseParser, record: RequestRecord) -> None:
        deadline_s = time.monotonic() + self.total_timeout_s
        record.t_send = time.time()  # until the connection says when it wrote
        t_send = record.t_send = self.connection.send(head, payload.body, record.due_s)
        response = parser.response
        reader = SseReader()
        stream = ChatStream(
            payload.max_tokens or self.max_tokens, AudioChunks(keep=self.speaks and _keep_audio(record))
        )
        body: list[bytes] = []
        body_bytes = stream_bytes = 0
        streaming = ended = False
        arrived_s = t_send
        try:
            for data, arrived_s in self.connection.reads(deadline_s):
                if not data:
                    parser.feed_eof()
                    break
                piece = parser.feed(data)
                if not parser.headers_done:
                    continue
                if record.ttfb_s is None:
                    record.ttfb_s = arrived_s - t_send
                    record.http_status = response.status
                    streaming = response.status == 200 and self.stream
                    if streaming and not response.headers.get("content-type", "").startswith("text/event-stream"):
                        record.fail(
                            wire.MALFORMED_EVENT,
                            f"expected text/event-stream, got {response.headers.get('content-type', '')!r}",
                        )
                        streaming = False
                if streaming:
                    stream_bytes += len(piece)
                    for event in reader.feed(piece, arrived_s):
                        stream.on_event(event)
                    if stream.must_end:
                        break
                elif body_bytes < MAX_BODY_BYTES:
                    body.append(piece)
                    body_bytes += len(piece)
                if response.complete:
                    break
            ended = True
        finally:
            # a wait that ended in an error counts up to now, not to the last byte
            record.duration_s = (arrived_s if ended else time.time()) - t_send
            if streaming:
                self._fill_from_stream(record, stream, t_send, payload)
        if response.status != 200:
            self._http_error(response.status, b"".join(body), record)
        elif streaming:
            if stream_bytes and not reader.data_lines_seen:
                record.fail(
                    wire.MALFORMED_EVENT, "a text/event-stream response without any data: line (not an event stream)"
                )
            failure = stream.end_failure()
            if failure is not None:
                record.fail(*failure)
            if self.speaks and not stream.audio.arrivals_s:
                record.fail(wire.NO_AUDIO, "the answer ended without any audio (--audio-output asked for it)")
            self._check_output(record, payload)
        elif record.status == "ok":
            self._whole(b"".join(body), record, arrived_s - t_send, payload)

    def _http_error(self, status: int, body: bytes, record: RequestRecord) -> None:
        try:
            message = error_message(safejson.loads(body[:ERROR_BODY_LIMIT_BYTES]))
        except ValueError:
            message = body[:MAX_MESSAGE_CHARS].decode("utf-8", "replace")
        record.latency_s = record.duration_s
        record.fail(wire.http_reason(status), message)

    def _fill_from_stream(self, record: RequestRecord, stream: ChatStream, t_send: float, payload: Payload) -> None:
        record.finish_reason = stream.finish_reason
        record.done_marker = stream.done
        if stream.output_times_s:
            record.ttft_s = stream.output_times_s[0] - t_send
            record.itl_s = inter_token_latencies_s(stream.output_times_s)
        if stream.first_content_s is not None:
            record.ttfot_s = stream.first_content_s - t_send
        if stream.last_event_s is not None:
            record.latency_s = stream.last_event_s - t_send
        self._fill_tokens(record, stream.output_texts, stream.prompt_tokens, stream.completion_tokens, payload)
        record.cached_tokens = stream.cached_tokens
        self.last_answer = "".join(stream.content_texts)
        if stream.audio.arrivals_s:
            _fill_audio(record, stream.audio, t_send)
        # TPOT is the text's pace: with a spoken answer, up to the last text event (the audio may go on after it)
        text_end_s = stream.output_times_s[-1] - t_send if stream.audio.arrivals_s and stream.output_times_s else None
        end_s = text_end_s if text_end_s is not None else record.latency_s
        if end_s is not None and record.ttft_s is not None and record.completion_tokens:
            record.tpot_s = time_per_output_token_s(end_s, record.ttft_s, record.completion_tokens)

    def _whole(self, body: bytes, record: RequestRecord, latency_s: float, payload: Payload) -> None:
        """A non-streamed completion: the whole answer arrives at once (TTFT = latency)."""
        record.latency_s = record.ttft_s = latency_s
        try:
            text, self.last_answer, record.finish_reason, prompt_tokens, completion_tokens, record.cached_tokens = (
                parse_completion(body)
            )
        except ValueError as exc:
            record.fail(wire.MALFORMED_EVENT, _message(exc))
            return
        self._fill_tokens(record, [text] if text else [], prompt_tokens, completion_tokens, payload)
        self._check_output(record, payload)

    def _fill_tokens(
        self,
        record: RequestRecord,
        output_texts: list[str],
        prompt_tokens: int | None,
        completion_tokens: int | None,
        payload: Payload,
    ) -> None:
        """Token counts from usage; locally counted (and flagged) when the server sent none.

        Tokens per event are 1 each when the events match the usage count, else counted
        locally (off the event loop: the counter runs in a native thread).
        """
        record.prompt_tokens = prompt_tokens
        if prompt_tokens is not None and not payload.history_tokens:  # a later turn's text is the server's to count
            record.multimodal_tokens = prompt_tokens - payload.expected_text_tokens
        record.completion_tokens = completion_tokens
        record.tokens_source = "usage" if completion_tokens is not None else "local"
        if completion_tokens is not None and len(output_texts) == completion_tokens:
            record.tokens_per_event = [1] * completion_tokens
        elif output_texts:
            counts = self.count_tokens([*output_texts, "".join(output_texts)])
            record.tokens_per_event = counts[:-1]
            if completion_tokens is None:
                record.completion_tokens = counts[-1]
        elif completion_tokens is None:
            record.completion_tokens = 0

    def _check_output(self, record: RequestRecord, payload: Payload) -> None:
        """Output outside the bounds the request asked for (a --mix class's own, or the run's) is a failure."""
        max_tokens = payload.max_tokens or self.max_tokens
        min_tokens = payload.min_tokens if payload.min_tokens is not None else self.min_tokens
        if record.status == "ok" and (record.completion_tokens or 0) > max_tokens:
            record.fail(wire.OVERLONG_OUTPUT, f"{record.completion_tokens} completion tokens, max_tokens {max_tokens}")
        if record.status == "ok" and (record.completion_tokens or 0) < min_tokens:
            record.fail(
                wire.SHORT_OUTPUT,
                f"{record.completion_tokens} completion tokens, {min_tokens} asked for with min_tokens",
            )


SAMPLES_PER_STAGE = 2  # spoken answers kept per stage and load process, for the report's players
_samples_taken: dict[int, int] = {}


def _keep_audio(record: RequestRecord) -> bool:
    """Whether this request's spoken answer is kept whole (its process's first few of its stage)."""
    taken = _samples_taken.get(record.stage, 0)
    if taken >= SAMPLES_PER_STAGE or record.warmup:
        return False
    _samples_taken[record.stage] = taken + 1
    return True


def _fill_audio(record: RequestRecord, audio: AudioChunks, t_send: float) -> None:
    """The spoken answer's figures (harness/playback.py), from its chunks' kernel arrival stamps."""
    record.audio_chunk_at_s = [arrived_s - t_send for arrived_s in audio.arrivals_s]
    record.audio_chunk_s = audio.durations_s
    heard = playback(record.audio_chunk_at_s, audio.durations_s)
    record.ttfa_s, record.audio_out_s, record.audio_rtf = heard.ttfa_s, audio.seconds, heard.rtf
    record.playback_start_s, record.underruns, record.underrun_s = heard.start_s, heard.underruns, heard.underrun_s
    record.audio_sample = audio.wav_b64()


def _message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_MESSAGE_CHARS]
