"""Frames on the agent's stdin/stdout: one kind byte, a 4-byte big-endian
length, the payload. Shared by the server and the agent (stdlib only).

Kinds: ``J`` a JSON message (a dict with ``t``, its type); ``Z`` the same,
zlib-compressed (scan listings); ``D`` a group's needed chunks, concatenated
in the order of the group's hashes (after a 4-byte group number); ``R`` a
piece of a file's raw content (the fallback without native hashing); ``N``
the native modules (a zip), sent to the agent before native reading; ``H``
the agent's heartbeat (its progress counter and whether its work waits for
the server), sent from a thread of its own every few seconds."""
from __future__ import annotations

import json
import struct
import zlib
from typing import Any, Dict, Tuple

HEADER = struct.Struct(">cI")
GROUP = struct.Struct(">I")
BEAT = struct.Struct(">QB")   # a heartbeat: progress counter, waiting (0/1)
MAX_FRAME = 64 << 20

JSON, ZJSON, DATA, RAW, NATIVE, HEARTBEAT = b"J", b"Z", b"D", b"R", b"N", b"H"


def frame(kind: bytes, payload: bytes) -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def message(msg: Dict[str, Any]) -> bytes:
    return frame(JSON, json.dumps(msg, separators=(",", ":")).encode())


def zmessage(msg: Dict[str, Any]) -> bytes:
    return frame(ZJSON, zlib.compress(json.dumps(msg, separators=(",", ":")).encode(), 1))


def decode(kind: bytes, payload: bytes) -> Dict[str, Any]:
    if kind == ZJSON:
        payload = zlib.decompress(payload)
    msg: Dict[str, Any] = json.loads(payload)
    return msg


def header(raw: bytes) -> Tuple[bytes, int]:
    kind, n = HEADER.unpack(raw)
    if n > MAX_FRAME:
        raise ValueError(f"frame of {n} bytes is larger than {MAX_FRAME}")
    return kind, n
