"""A stranger on the master's port: joins as a plain Locust worker and prints what it is sent.

Run as `python tests/intruder.py PORT` (a process of its own: importing Locust patches the
standard library with gevent). Prints one JSON line per message (type, data) until the
first spawn message, or nothing more after DEADLINE_S.
"""

from __future__ import annotations

import gevent
from locust import __version__
from locust.rpc import Message, zmqrpc

import json
import sys

DEADLINE_S = 60.0


def main(port: int) -> None:
    client = zmqrpc.Client("127.0.0.1", port, "intruder")
    client.send(Message("client_ready", __version__, "intruder"))
    with gevent.Timeout(DEADLINE_S, False):
        while True:
            message = client.recv()
            print(json.dumps({"type": message.type, "data": message.data}, default=repr), flush=True)
            if message.type == "spawn":
                break
    client.close()


if __name__ == "__main__":
    main(int(sys.argv[1]))
