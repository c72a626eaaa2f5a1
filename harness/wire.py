"""The contract between the two sides of a run: what load generators and the master say.

A load generator (harness/load/: the single process, or each worker) and the master
(harness/master/: the master, or the single process again) talk only through these
Locust custom messages, so one code path serves every topology; on a LocalRunner a
message to the "master" is a direct call. Neither side touches the other's objects.

    load -> master   WANT      WantMessage      a user wants a permit for one request (sweeps)
                     CANCEL    WantMessage      that user was stopped before it got one
                     RETURN    ReturnMessage    a permit that arrived for a stopped user
                     RECORD    RecordMessage    a finished request
                     READY     ReadyMessage     its payload pool is built, before load
                     DONE      DoneMessage      at test stop: payload reuse, CPU used
                     REJECTED  RejectedMessage  it refused the run's input (then it exits 2)
                     HEALTH    HealthMessage    once a second during load: its CPU, read delay and event-loop lag
    master -> load   GRANT     GrantMessage     one permit, for the user that asked

Failure reasons are the fixed vocabulary below (plus `http_<status>`): every producer
uses these constants, and the live metrics pre-create one series per reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

WANT = "omniload_want"
CANCEL = "omniload_cancel"
RETURN = "omniload_return"
RECORD = "omniload_record"
READY = "omniload_ready"
DONE = "omniload_done"
GRANT = "omniload_grant"
REJECTED = "omniload_rejected"
HEALTH = "omniload_health"

# --- failure reasons (README, "Failure reasons") ---------------------------------------
CONNECT_ERROR = "connect_error"  # no connection, or it closed before any response byte
TIMEOUT = "timeout"  # no byte for --read-timeout, or no whole response within --total-timeout
STREAM_TRUNCATED = "stream_truncated"  # the response ended early or without a finish_reason
MALFORMED_EVENT = "malformed_event"  # not SSE / not JSON / broken HTTP framing
SERVER_ERROR_EVENT = "server_error_event"  # an error object inside a 200 stream
SHORT_OUTPUT = "short_output"  # fewer completion tokens than min_tokens asked for
NO_AUDIO = "no_audio"  # --audio-output: an answer that ended without any audio
OVERLONG_OUTPUT = "overlong_output"  # more output than max_tokens allows (the stream is ended)
CANCELLED = "cancelled"  # the load test stopped the user mid-request
WORKER_LOST = "worker_lost"  # its worker stopped answering the master with it in flight
CLIENT_ERROR = "client_error"  # an unexpected error in omniload's own client (a bug: please report it)
REJECTED_CLIENT_LIMIT = "rejected_client_limit"  # open loop: due with --max-concurrency requests in flight; never sent
HTTP_REASON_PREFIX = "http_"  # http_<status> for a non-200 answer

FAILURE_REASONS = (
    CONNECT_ERROR,
    TIMEOUT,
    STREAM_TRUNCATED,
    MALFORMED_EVENT,
    SERVER_ERROR_EVENT,
    SHORT_OUTPUT,
    OVERLONG_OUTPUT,
    NO_AUDIO,
    CANCELLED,
    WORKER_LOST,
    CLIENT_ERROR,
    REJECTED_CLIENT_LIMIT,
)


def http_reason(status: int) -> str:
    """The failure reason of a non-200 HTTP answer, e.g. http_503."""
    return f"{HTTP_REASON_PREFIX}{status}"


# A Permit on the wire: [stage, seq, warmup, due_s] (msgpack carries lists, not dataclasses).
PermitWire = list[int | bool | float | None]


@dataclass(frozen=True)
class Permit:
    """The master's leave to send one request of one stage (harness/master/budget.py)."""

    stage: int  # index of the stage in the sweep
    seq: int  # 0 .. warmup + number - 1 within the stage
    warmup: bool
    due_s: float | None = None  # a rate stage's scheduled send time (unix s); None: send at once

    def to_wire(self) -> PermitWire:
        return [self.stage, self.seq, self.warmup, self.due_s]

    @staticmethod
    def from_wire(wire: Sequence[Any]) -> Permit:
        stage, seq, warmup, due_s = wire
        return Permit(int(stage), int(seq), bool(warmup), None if due_s is None else float(due_s))


class WantMessage(TypedDict):
    """WANT and CANCEL: a user's ticket for one permit."""

    ask: int  # the asking user's ticket, unique within its load generator


class GrantMessage(TypedDict):
    """GRANT: a permit for the user holding ticket `ask`."""

    ask: int
    permit: PermitWire  # Permit.to_wire()


class ReturnMessage(TypedDict):
    """RETURN: a granted permit whose user had stopped."""

    permit: PermitWire


class RecordMessage(TypedDict):
    """RECORD: one finished request."""

    record: dict[str, Any]  # RequestRecord.to_dict()
    permit: PermitWire | None  # Permit.to_wire(); None in a plain run
    cpu_s: float  # the sending process's CPU seconds so far


class PayloadFacts(TypedDict, total=False):
    """How a load generator's payload pool was built."""

    pool_size: int  # payloads built before load
    build_s: float  # seconds the build took
    image_bytes_mean: float  # encoded image bytes per payload
    body_bytes_mean: float  # request body bytes per payload
    reused: int  # requests that took a payload already sent once (filled at DONE)
    built_during_load: int  # fresh payloads built while the run went on (filled at DONE)
    waits: int  # requests that waited for fresh payloads (filled at DONE)
    wait_s: float


class ReadyMessage(TypedDict):
    """READY: a load generator built its payloads and checked a prompt with the server."""

    worker: int  # the load generator's index (0 for a single process)
    payloads: PayloadFacts
    tokenize_check: dict[str, Any]  # {"expected", "server", "match"} or {"skipped": why}


class ClientUsage(TypedDict):
    """CPU a load generator used during load."""

    cpu_s: float  # CPU seconds used since the pool was ready (all threads)
    wall_s: float  # seconds since the pool was ready
    cpu_percent: float  # cpu_s / wall_s, in percent of one core


class DoneMessage(TypedDict):
    """DONE: a load generator's last word at test stop."""

    worker: int
    reused: int  # requests that reused a payload
    client: ClientUsage
    unreachable_s: float  # seconds the server could not be reached (connect_error), outages summed
    built_during_load: int  # fresh payloads a plain run built while it ran
    payload_waits: int  # requests that waited for fresh payloads (the load generator was the limit)
    payload_wait_s: float


class RejectedMessage(TypedDict):
    """REJECTED: a worker refused the run's input; the master stops and exits 2 with its line."""

    worker: int
    error: str  # one line naming the flag, e.g. "--tokenizer-path: cannot load a tokenizer: ..."


class HealthMessage(TypedDict):
    """HEALTH: how a load generator fared over its last second (harness/load/health.py)."""

    worker: int
    wall_s: float  # the window's length
    cpu_s: float  # CPU the process used in it (all threads)
    lag_p99_s: float  # event-loop lag: how late a 10 ms sleep woke, p99 over the last 10 s of such sleeps
    lag_max_s: float  # the latest second's worst
    read_delay_p99_s: (
        float  # from the kernel's receive stamp to the read, p99 of the recent reads (harness/load/health.py)
    )
