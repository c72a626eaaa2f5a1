"""The simulator as a process: it leaves nothing behind, refuses a taken port in one line, survives leavers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from harness.devtools.simprocess import start_sim

from common import MODEL

DEADLINE_S = 15.0


def children_of(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return [int(child) for child in children.read().split()]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_parser_processes_die_with_a_killed_server() -> None:
    sim = start_sim(["--fixed", "1", "1", "--model", MODEL])
    parsers = children_of(sim.process.pid)
    assert len(parsers) >= 2
    os.kill(sim.process.pid, signal.SIGKILL)
    sim.process.wait(DEADLINE_S)
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline and any(alive(pid) for pid in parsers):
        time.sleep(0.05)
    assert not any(alive(pid) for pid in parsers)


def test_a_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "harness.sim", "--port", str(port), "--model", MODEL],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"python -m harness.sim: error: --port: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in result.stderr


def test_a_client_leaving_a_non_streamed_reply_is_recorded_not_a_traceback(tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"
    sim = start_sim(["--fixed", "300", "1", "--model", MODEL], ground_truth=str(truth))
    try:
        body = json.dumps(
            {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "stream": False}
        ).encode()
        host, port = sim.base_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as client:
            client.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"X-Request-Id: leaver\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            time.sleep(0.1)  # the server is generating; the client leaves with a reset
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        (record,) = sim.wait_records(1, DEADLINE_S)
    finally:
        sim.stop()
    assert record["completion_tokens"] == 5 and record["finish_reason"] == "abort"
    assert "Traceback" not in "".join(sim.output)
