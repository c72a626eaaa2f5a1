"""--wait-for-server: poll the server until its model answers, before the checks before load.

A vLLM pod takes minutes to load Qwen3-Omni-30B, and its API server listens only once the
engine is up; peers wait for it (`vllm bench serve --ready-check-timeout-sec`, AIPerf
`--wait-for-model-timeout`). Ready means: the server accepts connections, its `/health`
(vLLM's) is 200 or absent, and its `/v1/models`, when it answers 200, lists the model.
A server with neither route (404) is taken as ready: it is up and says nothing more.
"""

from __future__ import annotations

import time

from harness import safejson
from harness.argparsing import BadOption
from harness.endpoint import Endpoint
from harness.fetch import Bounds, FetchError, fetch
from harness.progress import ProgressLine

POLL_INTERVAL_S = 1.0
PROBE_BOUNDS = Bounds(connect_s=2.0, read_s=5.0, total_s=5.0)
HEALTH_PATH = "/health"
MODELS_PATH = "/v1/models"
ABSENT_STATUSES = frozenset({404, 405})


def not_ready(endpoint: Endpoint, bounds: Bounds = PROBE_BOUNDS) -> str | None:
    """Why the server is not ready for load yet, or None when it is."""
    try:
        health = fetch("GET", endpoint.base_url + HEALTH_PATH, bounds, endpoint.auth_headers())
        if health.status != 200 and health.status not in ABSENT_STATUSES:
            return f"{HEALTH_PATH} answered HTTP {health.status}"
        models = fetch("GET", endpoint.base_url + MODELS_PATH, bounds, endpoint.auth_headers())
    except FetchError as exc:
        return f"no answer ({exc})"
    if models.status in ABSENT_STATUSES or (models.status != 200 and health.status == 200):
        return None  # up, and its health says so (transformers serve's /v1/models can fail on a local path)
    if models.status != 200:
        return f"{MODELS_PATH} answered HTTP {models.status}"
    try:
        served = [str(entry.get("id")) for entry in safejson.loads(models.body).get("data") or []]
    except (ValueError, AttributeError, TypeError):
        return None  # an answer we cannot read: the preflight will say more
    if served and endpoint.model not in served:
        return f"{endpoint.model!r} is not among its models yet ({', '.join(served)[:200]})"
    return None


def wait_for_server(endpoint: Endpoint, wait_s: float, progress: ProgressLine | None = None) -> float:
    """Poll until the server is ready; returns the seconds waited. BadOption("--wait-for-server") past wait_s."""
    started_s = time.monotonic()
    line = progress or ProgressLine()
    while True:
        reason = not_ready(endpoint)
        waited_s = time.monotonic() - started_s
        if reason is None:
            if waited_s >= POLL_INTERVAL_S:
                line.show(f"omniload: {endpoint.base_url} is ready after {waited_s:.0f} s", force=True)
                line.end()
            return waited_s
        if waited_s >= wait_s:
            line.end()
            raise BadOption("--wait-for-server", f"{endpoint.base_url} was not ready within {wait_s:g} s: {reason}")
        line.show(
            f"omniload: waiting for {endpoint.base_url} ({waited_s:.0f}/{wait_s:g} s): {reason}",
            force=waited_s < POLL_INTERVAL_S,
        )
        time.sleep(min(POLL_INTERVAL_S, max(0.0, wait_s - waited_s)))
