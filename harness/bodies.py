"""A run's request bodies, kept (--keep-bodies) so that `omniload replay` can send exactly them again.

Each load generator appends `<request id> <length>\n<body bytes>` to `bodies.<worker>.bin` in the
report directory once a request has ended (not while it is sent): a file write of a body is a copy
into the page cache, ~10 µs for 30 KB, ~0.3 ms for a megabyte of images.
"""

from __future__ import annotations

import glob
import os
from typing import BinaryIO

BODIES_FILE = "bodies.{index}.bin"
MAX_HEADER_BYTES = 256


class BodyWriter:
    def __init__(self, report_dir: str, index: int) -> None:
        os.makedirs(report_dir, exist_ok=True)
        self._file: BinaryIO = open(os.path.join(report_dir, BODIES_FILE.format(index=index)), "wb")  # noqa: SIM115

    def keep(self, request_id: str, body: bytes) -> None:
        self._file.write(f"{request_id} {len(body)}\n".encode("ascii") + body)

    def close(self) -> None:
        self._file.close()


def read_bodies(report_dir: str, wanted: set[str]) -> dict[str, bytes]:
    """The kept bodies of `wanted` request ids (ValueError on a damaged file)."""
    bodies: dict[str, bytes] = {}
    for path in sorted(glob.glob(os.path.join(report_dir, BODIES_FILE.format(index="*")))):
        with open(path, "rb") as file:
            while header := file.readline(MAX_HEADER_BYTES):
                try:
                    request_id, length = header.decode("ascii").split()
                    body = file.read(int(length))
                except ValueError:
                    raise ValueError(f"{path}: damaged at byte {file.tell()}") from None
                if len(body) != int(length):
                    raise ValueError(f"{path}: cut short in {request_id}'s body")
                if request_id in wanted:
                    bodies[request_id] = body
    return bodies
