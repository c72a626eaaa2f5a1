"""The simulator's arrival stamps hold under a herd: 100 requests sent in the same millisecond.

Each sender thread reads the wall clock just before and just after writing its whole
request (on loopback the kernel receives the bytes within that write); the simulator
stamps each request with the kernel's receive time of the read that completed its head,
which must fall inside that window, give or take TOLERANCE_S. Before, the stamp was taken as aiohttp parsed
each head, one after another on
the event loop, and the last of a herd came out tens of ms late.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

from harness.devtools.simprocess import start_sim

from common import MODEL

HERD = 100
TOLERANCE_S = 0.001
DEADLINE_S = 60.0


def test_a_herd_of_100_is_stamped_within_1_ms_of_each_send(tmp_path: Path) -> None:
    sim = start_sim(["--fixed", "50", "1", "--model", MODEL], ground_truth=str(tmp_path / "truth.jsonl"))
    host, port = sim.base_url.removeprefix("http://").split(":")
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 2}).encode()
    sent_at: dict[str, tuple[float, float]] = {}
    ready = threading.Barrier(HERD)

    def send(index: int) -> None:
        request_id = f"herd-{index}"
        request = (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-Request-Id: %s\r\nContent-Length: %d\r\n\r\n%s" % (request_id.encode(), len(body), body)
        )
        with socket.create_connection((host, int(port)), timeout=DEADLINE_S) as connection:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            ready.wait()
            before_s = time.time()
            connection.sendall(request)
            sent_at[request_id] = (before_s, time.time())
            response = b""
            while b"\r\n\r\n" not in response:
                response += connection.recv(65536)

    try:
        threads = [threading.Thread(target=send, args=(index,)) for index in range(HERD)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(DEADLINE_S)
        truth = {record["request_id"]: record for record in sim.wait_records(HERD, DEADLINE_S)}
    finally:
        sim.stop()
    assert len(sent_at) == HERD and set(sent_at) <= set(truth)
    # how far outside its write's window each stamp fell (0 when inside)
    errors_s = sorted(
        max(0.0, before_s - truth[request_id]["received_at"], truth[request_id]["received_at"] - after_s)
        for request_id, (before_s, after_s) in sent_at.items()
    )
    spread_s = max(after for _, after in sent_at.values()) - min(before for before, _ in sent_at.values())
    print(
        f"herd of {HERD} sent within {spread_s * 1000:.1f} ms: stamp error p50 {errors_s[HERD // 2] * 1000:.3f} ms, "
        f"max {errors_s[-1] * 1000:.3f} ms"
    )
    assert errors_s[-1] <= TOLERANCE_S
