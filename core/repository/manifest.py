"""Manifest (restore point) encoding.

A manifest is a zstd frame (with content checksum) holding two lines of JSON:
a header object with the point's metadata, then one array of entry rows. The
header comes first so listing points decompresses only a few bytes.

Format 2 appends a trailer, ``MANIFEST_TRAILER`` + blake3 of the frame, so that
every single-byte change of the file is detected (a few bytes of a zstd frame
can change without changing what it decodes to). Format 1 files (no trailer)
are still read.

Format 3 (written since) keeps the entry rows out of the object: its second
line is the list of the entry blobs' ids, ordinary data blobs in packs (see
entrystream), so the object of an unchanged point is a few hundred bytes and
a copy job with nothing new sends little more. Formats 1 and 2 are still read
(the rows are the second line).

In an encrypted repository the object holds the header line and the whole
encoded manifest sealed separately (see ``write_manifest``), so listing
points reads and opens only the first few hundred bytes.
"""
from __future__ import annotations

import io
import json
import re
import struct
from datetime import datetime, timezone
from typing import Any

import zstandard
from blake3 import blake3

from core.errors import RepositoryError
from core.process.fdlimit import out_of_descriptors, too_many_open_files

from core.repository import immutability
from core.repository.entrystream import ReadBlob, iter_entries, unpack_rows
from core.repository.layout import Layout
from core.repository.model import Entry, Manifest, PointMeta

MANIFEST_FORMAT = 3
LEGACY_FORMATS = (1, 2)
INLINE_FORMAT = 2      # the rows inside the object (what ``encode_manifest`` writes)
MANIFEST_TRAILER = b"ABKMSUM2"
_TRAILER_LEN = len(MANIFEST_TRAILER) + 32
FIELDS = list(Entry._fields)
_LEVEL = 3


def meta_to_json(meta: PointMeta) -> dict[str, Any]:
    found: dict[str, Any] = {
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
    if meta.server is not None:   # older readers ignore it: the format stays the same
        found["server"] = meta.server
    if meta.origin is not None:   # a copied point (older readers ignore it too)
        found["origin"] = meta.origin
    return found


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
        server=None if d.get("server") is None else str(d["server"]),
        origin=None if d.get("origin") is None else str(d["origin"]),
    )


def encode_manifest(manifest: Manifest) -> bytes:
    """Format 2, the rows inside the object: what older builds wrote (kept for
    tests and fixtures of existing repositories; new points are format 3)."""
    # Entries are NamedTuples, so json writes each as a plain array row.
    return _frame(_header_line(manifest, INLINE_FORMAT) + b"\n"
                  + json.dumps(manifest.entries, separators=(",", ":")).encode("ascii"))


def encode_streamed(manifest: Manifest) -> bytes:
    """Format 3: the header line and the ids of the entry blobs
    (``manifest.entry_blobs``, already stored)."""
    return _frame(_header_line(manifest) + b"\n"
                  + json.dumps(list(manifest.entry_blobs)).encode("ascii"))


def _frame(body: bytes) -> bytes:
    frame = zstandard.ZstdCompressor(level=_LEVEL, write_checksum=True).compress(body + b"\n")
    return frame + MANIFEST_TRAILER + blake3(frame).digest()


def _split_trailer(data: bytes) -> tuple[bytes, bool]:
    """(zstd frame, whether a checksum trailer was present); ValueError if it does not match."""
    if len(data) > _TRAILER_LEN and data[-_TRAILER_LEN:-32] == MANIFEST_TRAILER:
        frame = data[:-_TRAILER_LEN]
        if blake3(frame).digest() != data[-32:]:
            raise ValueError("checksum mismatch")
        return frame, True
    return data, False


def _corrupt(layout: Layout, point_id: str, exc: Exception) -> RepositoryError:
    path = layout.describe(layout.point(point_id))
    return RepositoryError(
        f"Manifest {path} is corrupt ({exc}): restore point {point_id} cannot "
        "be read. It stays listed as damaged; restore another point of that computer, or put "
        "back this file from a copy of the repository."
    )


def _unreadable(layout: Layout, point_id: str, exc: OSError) -> RepositoryError:
    path = layout.describe(layout.point(point_id))
    if out_of_descriptors(exc):
        return RepositoryError(too_many_open_files(f"manifest {path}"))
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


def decode_manifest(data: bytes, read_blob: ReadBlob | None = None) -> Manifest:
    """The manifest of an encoded object. A format-3 object's rows are read
    through ``read_blob`` (an entry blob's raw bytes by id), one blob at a
    time; without it they are not read (``entries`` is empty and
    ``entry_blobs`` says which blobs hold them)."""
    frame, checked = _split_trailer(data)
    body = zstandard.ZstdDecompressor().decompress(frame)
    head, sep, rows_json = body.partition(b"\n")
    if not sep:
        raise ValueError("missing entry list")
    header = _check_header(json.loads(head.decode("ascii")))
    if header["format"] != 1 and not checked:
        raise ValueError("checksum trailer is missing or damaged")
    meta = meta_from_json(header["meta"])
    rows = json.loads(rows_json.decode("ascii"))
    if header["format"] == MANIFEST_FORMAT:
        if not isinstance(rows, list) or not all(
                isinstance(b, str) and _BLOB_ID.fullmatch(b.encode()) for b in rows):
            raise ValueError("malformed entry blob list")
        ids = tuple(rows)
        if read_blob is None:
            return Manifest(meta, [], ids)
        entries = list(iter_entries(ids, read_blob))
    else:
        ids = ()
        entries = [
            Entry(path, kind, mode, mtime_ns, size, ctime_ns, inode, tuple(blocks), target)
            for path, kind, mode, mtime_ns, size, ctime_ns, inode, blocks, target in rows
        ]
    if len(entries) != header["count"]:
        raise ValueError("entry count mismatch")
    return Manifest(meta, entries, ids)


_BLOB_ID = re.compile(rb"[0-9a-f]{64}")
_STREAMED_HEAD = b'{"format":%d,' % MANIFEST_FORMAT
_HEAD_BYTES = 64 << 10   # enough for the header line of any manifest, compressed
_HEAD_LEN = struct.Struct("<I")


def _header_line(manifest: Manifest, fmt: int = MANIFEST_FORMAT) -> bytes:
    header = {
        "format": fmt,
        "meta": meta_to_json(manifest.meta),
        "fields": FIELDS,
        "count": len(manifest.entries),
    }
    return json.dumps(header, separators=(",", ":")).encode("ascii")


def write_manifest(layout: Layout, manifest: Manifest) -> str:
    """Save the manifest of a point; returns the ``stored_digest`` of what
    was saved. OSError on failure.

    Sealed (encrypted repository) it is two sealed parts, so that listing
    points opens only the small first one::

        u32 length of the sealed header | seal(header line) | seal(encoded manifest)
    """
    name = layout.point(manifest.meta.id)
    stored = encode_streamed(manifest)
    if layout.sealer.encrypted:
        head = layout.sealer.seal(_header_line(manifest))
        stored = b"".join((_HEAD_LEN.pack(len(head)), head, layout.sealer.seal(stored)))
    layout.backend.save(name, stored)
    return blake3(stored).hexdigest()


def stored_digest(layout: Layout, point_id: str) -> str:
    """blake3 of the manifest object as stored: reading and hashing it is far
    cheaper than decoding it. FileNotFoundError if absent, OSError if unreadable."""
    return blake3(layout.backend.load(layout.point(point_id))).hexdigest()


def _sealed_parts(layout: Layout, data: bytes) -> tuple[bytes, bytes]:
    """(header line, encoded manifest) of a sealed manifest; SealDamaged or
    ValueError if it was changed."""
    if len(data) < _HEAD_LEN.size:
        raise ValueError("it is truncated")
    (n,) = _HEAD_LEN.unpack_from(data)
    end = _HEAD_LEN.size + n
    if end > len(data):
        raise ValueError("it is truncated")
    return layout.open_sealed(data[_HEAD_LEN.size:end]), layout.open_sealed(data[end:])


def _plain(layout: Layout, data: bytes) -> bytes:
    """The encoded manifest (zstd frame and trailer) of the stored bytes."""
    if not layout.sealer.encrypted:
        return data
    head, encoded = _sealed_parts(layout, data)
    if _head_line(encoded) != head:
        raise ValueError("its two parts do not match")
    return encoded


def salvage_blob_ids(layout: Layout, point_id: str,
                     read_blob: ReadBlob | None = None) -> set[str]:
    """Block ids named in the readable part of a damaged manifest (decompressed
    up to the damage), so that prune keeps what the point may still need.
    Nothing can be salvaged from a sealed manifest that does not open. Of a
    format-3 manifest, the ids named are its entry blobs': with ``read_blob``
    the ids named in those that can be read are kept too."""
    found, streamed = _salvage_ids(layout, point_id)
    if read_blob is None or not streamed:
        return found
    for blob in list(found):
        try:
            found.update(m.decode() for m in _BLOB_ID.findall(unpack_rows(read_blob(blob))))
        except (RepositoryError, OSError, ValueError):
            continue
    return found


def _salvage_ids(layout: Layout, point_id: str) -> tuple[set[str], bool]:
    """(ids named, whether the manifest is format 3)."""
    found: set[str] = set()
    tail = b""
    streamed: bool | None = None
    try:
        data = layout.backend.load(layout.point(point_id))
        if layout.sealer.encrypted:
            data = _sealed_parts(layout, data)[1]
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data),
                                                            read_across_frames=False)
        while True:
            chunk = reader.read(1 << 16)
            if not chunk:
                break
            data = tail + chunk
            if streamed is None:
                streamed = data.startswith(_STREAMED_HEAD)
            found.update(m.decode() for m in _BLOB_ID.findall(data))
            tail = data[-80:]
    except (OSError, zstandard.ZstdError, ValueError):
        pass
    return found, bool(streamed)


def load_manifest(layout: Layout, point_id: str,
                  read_blob: ReadBlob | None = None) -> Manifest:
    """FileNotFoundError if absent, RepositoryError if unreadable or corrupt.
    A format-3 manifest's rows are read through ``read_blob`` (see
    ``decode_manifest``); what it raises (a RepositoryError saying which
    entry blob is damaged) propagates."""
    try:
        return immutability.load_checked(
            layout.backend, layout.point(point_id),
            lambda data: decode_manifest(_plain(layout, data), read_blob))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _unreadable(layout, point_id, exc) from exc
    except (zstandard.ZstdError, ValueError, TypeError, KeyError) as exc:   # SealDamaged too
        raise _corrupt(layout, point_id, exc) from exc


def _head_line(data: bytes) -> bytes | None:
    """The first line of the decompressed manifest, or None if ``data`` ends first."""
    out = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    nl = out.find(b"\n")
    return out[:nl] if nl >= 0 else None


def read_meta(layout: Layout, point_id: str) -> PointMeta:
    """Only the header line, from the first bytes of the manifest."""
    name = layout.point(point_id)

    def header(data: bytes) -> PointMeta:
        if layout.sealer.encrypted:
            (n,) = _HEAD_LEN.unpack_from(data) if len(data) >= _HEAD_LEN.size else (-1,)
            if n < 0 or _HEAD_LEN.size + n > len(data):
                raise ValueError("it is truncated")
            line: bytes | None = layout.open_sealed(data[_HEAD_LEN.size:_HEAD_LEN.size + n])
        else:
            line = _head_line(data)
            if line is None and len(data) == _HEAD_BYTES:
                line = _head_line(layout.backend.load(name))
        if line is None:
            raise ValueError("missing entry list")
        meta = meta_from_json(_check_header(json.loads(line.decode("ascii")))["meta"])
        if meta.id != point_id:
            raise ValueError(f"it names point {meta.id!r}")
        return meta

    try:
        return immutability.load_checked(layout.backend, name, header, 0, _HEAD_BYTES)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _unreadable(layout, point_id, exc) from exc
    except (zstandard.ZstdError, ValueError, TypeError, KeyError) as exc:
        raise _corrupt(layout, point_id, exc) from exc
