"""How the parent and a sandbox process talk: frames of a 4-byte big-endian length and
that many bytes, over the child's stdin (requests) and stdout (replies).

A request is two frames: a JSON header (the function body and its parameter names)
and the arguments as JSON text, passed to the engine as one string. A reply is one
frame: a status byte and its text. The first frame a child writes is READY, once it
has set its limits, so that its start-up never counts against an evaluation's clock.
"""

from __future__ import annotations

import json
import struct
from typing import BinaryIO

HEADER = struct.Struct(">I")
READY = b"ready"

# Reply statuses: the JSON text of the value; undefined (no JSON); the script failed
# (a throw, a syntax error: the process is fine); the script failed at a limit (the
# process is replaced, so that no state or fragmentation is carried over).
OK, UNDEFINED, FAILED, LIMITED = b"1", b"u", b"0", b"L"


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


def request(body: str, names: list[str], arguments: str) -> bytes:
    header = json.dumps({"body": body, "names": names}).encode()
    return frame(header) + frame(arguments.encode())


def read_request(header: bytes) -> tuple[str, list[str]]:
    fields = json.loads(header)
    return str(fields["body"]), [str(n) for n in fields["names"]]


def read_frame(stream: BinaryIO) -> bytes | None:
    """The next frame from a blocking stream; None at its end."""
    head = _read_exactly(stream, HEADER.size)
    if head is None:
        return None
    (size,) = HEADER.unpack(head)
    return _read_exactly(stream, size)


def write_frame(stream: BinaryIO, payload: bytes) -> None:
    stream.write(frame(payload))
    stream.flush()


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
