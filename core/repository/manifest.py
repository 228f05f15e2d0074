"""Manifest (restore point) encoding.

A manifest is a zstd frame (with content checksum) holding two lines of JSON:
a header object with the point's metadata, then one array of entry rows. The
header comes first so listing points decompresses only a few bytes.

Format 2 appends a trailer, ``MANIFEST_TRAILER`` + blake3 of the frame, so that
every single-byte change of the file is detected (a few bytes of a zstd frame
can change without changing what it decodes to). Format 1 files (no trailer)
are still read.
"""
from __future__ import annotations

import io
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import zstandard
from blake3 import blake3

from core.errors import RepositoryError

from .model import Entry, Manifest, PointMeta

MANIFEST_FORMAT = 2
LEGACY_FORMATS = (1,)
MANIFEST_TRAILER = b"ABKMSUM2"
_TRAILER_LEN = len(MANIFEST_TRAILER) + 32
FIELDS = list(Entry._fields)
_LEVEL = 3


def meta_to_json(meta: PointMeta) -> dict[str, Any]:
    return {
        "id": meta.id,
        "job": meta.job,
        "computer": meta.computer,
        "session_id": meta.session_id,
        "type": meta.type,
        "created": meta.created.astimezone(timezone.utc).isoformat(),
        "parent": meta.parent,
        "files": meta.files,
        "size": meta.size,
    }


def meta_from_json(d: dict[str, Any]) -> PointMeta:
    created = datetime.fromisoformat(d["created"])
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return PointMeta(
        id=str(d["id"]),
        job=str(d["job"]),
        computer=str(d["computer"]),
        session_id=str(d["session_id"]),
        type=str(d["type"]),
        created=created,
        parent=None if d.get("parent") is None else str(d["parent"]),
        files=int(d.get("files", 0)),
        size=int(d.get("size", 0)),
    )


def encode_manifest(manifest: Manifest) -> bytes:
    header = {
        "format": MANIFEST_FORMAT,
        "meta": meta_to_json(manifest.meta),
        "fields": FIELDS,
        "count": len(manifest.entries),
    }
    # Entries are NamedTuples, so json writes each as a plain array row.
    body = (
        json.dumps(header, separators=(",", ":"))
        + "\n"
        + json.dumps(manifest.entries, separators=(",", ":"))
        + "\n"
    ).encode("ascii")
    frame = zstandard.ZstdCompressor(level=_LEVEL, write_checksum=True).compress(body)
    return frame + MANIFEST_TRAILER + blake3(frame).digest()


def _split_trailer(data: bytes) -> tuple[bytes, bool]:
    """(zstd frame, whether a checksum trailer was present); ValueError if it does not match."""
    if len(data) > _TRAILER_LEN and data[-_TRAILER_LEN:-32] == MANIFEST_TRAILER:
        frame = data[:-_TRAILER_LEN]
        if blake3(frame).digest() != data[-32:]:
            raise ValueError("checksum mismatch")
        return frame, True
    return data, False


def _corrupt(path: Path, exc: Exception) -> RepositoryError:
    return RepositoryError(
        f"Manifest {path} is corrupt ({exc}): restore point {path.name.split('.')[0]} cannot "
        "be read. It stays listed as damaged; restore another point of that computer, or put "
        "back this file from a copy of the repository."
    )


def _unreadable(path: Path, exc: OSError) -> RepositoryError:
    return RepositoryError(
        f"Cannot read manifest {path}: {exc.strerror or exc}. Check that the repository disk "
        "is attached and readable."
    )


def _check_header(header: Any) -> dict[str, Any]:
    if not isinstance(header, dict) or (
            header.get("format") != MANIFEST_FORMAT
            and header.get("format") not in LEGACY_FORMATS):
        raise ValueError("unknown manifest format")
    if header.get("fields") != FIELDS:
        raise ValueError("unexpected entry fields")
    return header


def decode_manifest(data: bytes) -> Manifest:
    frame, checked = _split_trailer(data)
    body = zstandard.ZstdDecompressor().decompress(frame)
    head, sep, rows_json = body.partition(b"\n")
    if not sep:
        raise ValueError("missing entry list")
    header = _check_header(json.loads(head.decode("ascii")))
    if header["format"] == MANIFEST_FORMAT and not checked:
        raise ValueError("checksum trailer is missing or damaged")
    rows = json.loads(rows_json.decode("ascii"))
    entries = [
        Entry(path, kind, mode, mtime_ns, size, ctime_ns, inode, tuple(blocks), target)
        for path, kind, mode, mtime_ns, size, ctime_ns, inode, blocks, target in rows
    ]
    if len(entries) != header["count"]:
        raise ValueError("entry count mismatch")
    return Manifest(meta_from_json(header["meta"]), entries)


_BLOB_ID = re.compile(rb"[0-9a-f]{64}")


def salvage_blob_ids(path: Path) -> set[str]:
    """Block ids named in the readable part of a damaged manifest (decompressed
    up to the damage), so that prune keeps what the point may still need."""
    found: set[str] = set()
    tail = b""
    try:
        with open(path, "rb") as f:
            reader = zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=False)
            while True:
                chunk = reader.read(1 << 16)
                if not chunk:
                    break
                data = tail + chunk
                found.update(m.decode() for m in _BLOB_ID.findall(data))
                tail = data[-80:]
    except (OSError, zstandard.ZstdError, ValueError):
        pass
    return found


def load_manifest_file(path: Path) -> Manifest:
    """FileNotFoundError if absent, RepositoryError if unreadable or corrupt."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    try:
        return decode_manifest(data)
    except (zstandard.ZstdError, ValueError, TypeError, KeyError) as exc:
        raise _corrupt(path, exc) from exc


def read_meta(path: Path) -> PointMeta:
    """Only the header line: decompress until the first newline."""
    try:
        with open(path, "rb") as f:
            reader = zstandard.ZstdDecompressor().stream_reader(f)
            buf = io.BytesIO()
            while True:
                chunk = reader.read(16384)
                if not chunk:
                    raise ValueError("missing entry list")
                nl = chunk.find(b"\n")
                if nl >= 0:
                    buf.write(chunk[:nl])
                    break
                buf.write(chunk)
    except FileNotFoundError:
        raise
    except zstandard.ZstdError as exc:
        raise _corrupt(path, exc) from exc
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    except ValueError as exc:
        raise _corrupt(path, exc) from exc
    try:
        header = _check_header(json.loads(buf.getvalue().decode("ascii")))
        meta = meta_from_json(header["meta"])
    except (ValueError, TypeError, KeyError) as exc:
        raise _corrupt(path, exc) from exc
    if meta.id != path.name.split(".")[0]:
        raise _corrupt(path, ValueError(f"it names point {meta.id!r}"))
    return meta

