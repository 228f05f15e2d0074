"""Pack files: many blobs appended to one file, with a trailer listing them.

Layout::

    b"ABKPACK1"
    blob bytes ...                      (each blob stored raw or zstd-compressed)
    trailer: count x ENTRY              (blob id, offset, length, raw length, flags)
    footer:  FOOTER                     (count, blake3 of the trailer, b"ABKPEND1")

The trailer makes every pack self-describing, so the index can be rebuilt
from the packs alone (prune does this for packs no index file lists).
"""
from __future__ import annotations

import os
import secrets
import struct
import threading
from collections import OrderedDict
from pathlib import Path
from typing import NamedTuple

from blake3 import blake3

from .codec import decode
from .errors import BlobError
from .fsio import ensure_dir, fsync_dir, tmp_name
from .layout import Layout

PACK_MAGIC = b"ABKPACK1"
END_MAGIC = b"ABKPEND1"
ENTRY = struct.Struct("<32sQIIB")
FOOTER = struct.Struct("<I32s8s")
_WRITE_BUFFER = 1 << 20


class BlobLoc(NamedTuple):
    pack: str
    offset: int
    length: int
    raw_length: int
    flags: int


class PackInfo(NamedTuple):
    pack_id: str
    blobs: list[tuple[str, BlobLoc]]
    size: int


def new_pack_id() -> str:
    return secrets.token_hex(16)


def encode_entries(blobs: list[tuple[str, BlobLoc]]) -> bytes:
    pack = ENTRY.pack
    return b"".join(
        pack(bytes.fromhex(bid), loc.offset, loc.length, loc.raw_length, loc.flags)
        for bid, loc in blobs
    )


def decode_entries(data: bytes, pack_id: str) -> list[tuple[str, BlobLoc]]:
    return [
        (bid.hex(), BlobLoc(pack_id, off, length, raw, flags))
        for bid, off, length, raw, flags in ENTRY.iter_unpack(data)
    ]


class PackBuilder:
    """Appends blobs to a new pack in tmp/; ``finish`` makes it durable and visible."""

    def __init__(self, layout: Layout) -> None:
        self.pack_id = new_pack_id()
        self._layout = layout
        self._tmp = tmp_name(layout.tmp, ".pack.tmp")
        self._file = open(self._tmp, "xb", buffering=_WRITE_BUFFER)
        self._file.write(PACK_MAGIC)
        self._offset = len(PACK_MAGIC)
        self.blobs: list[tuple[str, BlobLoc]] = []

    @property
    def size(self) -> int:
        return self._offset

    def add(self, blob: str, data: bytes, raw_length: int, flags: int) -> BlobLoc:
        loc = BlobLoc(self.pack_id, self._offset, len(data), raw_length, flags)
        self._file.write(data)
        self._offset += len(data)
        self.blobs.append((blob, loc))
        return loc

    def finish(self) -> PackInfo:
        """Write the trailer, fsync, and rename the pack into packs/<xx>/."""
        trailer = encode_entries(self.blobs)
        f = self._file
        f.write(trailer)
        f.write(FOOTER.pack(len(self.blobs), blake3(trailer).digest(), END_MAGIC))
        f.flush()
        os.fsync(f.fileno())
        f.close()
        dest = self._layout.pack(self.pack_id)
        ensure_dir(dest.parent)
        os.rename(self._tmp, dest)
        fsync_dir(dest.parent)
        size = self._offset + len(trailer) + FOOTER.size
        return PackInfo(self.pack_id, self.blobs, size)

    def discard(self) -> None:
        try:
            self._file.close()
        except OSError:
            pass
        self._tmp.unlink(missing_ok=True)


def read_trailer(path: Path, pack_id: str) -> list[tuple[str, BlobLoc]]:
    """List a pack's blobs from its trailer; ValueError if the pack is damaged."""
    with open(path, "rb") as f:
        end = f.seek(0, os.SEEK_END)
        if end < len(PACK_MAGIC) + FOOTER.size:
            raise ValueError("pack is truncated")
        f.seek(end - FOOTER.size)
        count, digest, magic = FOOTER.unpack(f.read(FOOTER.size))
        tlen = count * ENTRY.size
        if magic != END_MAGIC or tlen > end - FOOTER.size - len(PACK_MAGIC):
            raise ValueError("pack footer is damaged")
        f.seek(end - FOOTER.size - tlen)
        trailer = f.read(tlen)
    if blake3(trailer).digest() != digest:
        raise ValueError("pack trailer is damaged")
    return decode_entries(trailer, pack_id)


class PackReader:
    """Reads blobs by location; keeps a bounded cache of open pack descriptors.

    Safe to share between threads: ``os.pread`` does not move a file offset, and a
    descriptor is only closed when no thread is reading through it."""

    def __init__(self, layout: Layout, max_open: int = 64) -> None:
        self._layout = layout
        self._max_open = max_open
        self._fds: OrderedDict[str, list[int]] = OrderedDict()  # pack -> [fd, users]
        self._lock = threading.Lock()

    def _acquire(self, pack_id: str, blob: str) -> list[int]:
        with self._lock:
            slot = self._fds.get(pack_id)
            if slot is None:
                try:
                    fd = os.open(self._layout.pack(pack_id), os.O_RDONLY | os.O_CLOEXEC)
                except FileNotFoundError:
                    raise BlobError(blob, pack_id, "missing", "(pack file is missing)") from None
                slot = self._fds[pack_id] = [fd, 1]
                self._evict()
            else:
                self._fds.move_to_end(pack_id)
                slot[1] += 1
            return slot

    def _evict(self) -> None:
        if len(self._fds) <= self._max_open:
            return
        for pack_id in [p for p, (_, users) in self._fds.items() if users == 0]:
            os.close(self._fds.pop(pack_id)[0])
            if len(self._fds) <= self._max_open:
                return

    def read_stored(self, blob: str, loc: BlobLoc) -> bytes:
        slot = self._acquire(loc.pack, blob)
        try:
            data = os.pread(slot[0], loc.length, loc.offset)
        finally:
            with self._lock:
                slot[1] -= 1
        if len(data) != loc.length:
            raise BlobError(blob, loc.pack, "corrupt", "(pack file is truncated)")
        return data

    def read(self, blob: str, loc: BlobLoc) -> bytes:
        """The raw block, verified against its id."""
        return decode(self.read_stored(blob, loc), loc.flags, loc.raw_length, blob, loc.pack)

    def close(self) -> None:
        with self._lock:
            for fd, _ in self._fds.values():
                os.close(fd)
            self._fds.clear()


class PackCheck(NamedTuple):
    """The outcome of reading a whole pack back."""

    entries: list[tuple[str, BlobLoc]] | None   # from the trailer; None if it is damaged
    bad: list[tuple[str, str]]                  # (blob, problem) for blobs that fail to decode
    problem: str | None                         # damage to the pack's own structure


def check_pack(path: Path, pack_id: str,
               fallback: list[tuple[str, BlobLoc]] | None = None) -> PackCheck:
    """Read a pack completely: header, every blob, trailer and footer, so that
    any changed byte is found. ``fallback`` (the index's entries for the pack)
    locates the blobs when the trailer is damaged. OSError if unreadable."""
    with open(path, "rb") as f:
        data = f.read()
    problem: str | None = None
    entries: list[tuple[str, BlobLoc]] | None = None
    if not data.startswith(PACK_MAGIC):
        problem = "its header is damaged"
    try:
        entries = _trailer_of(data, pack_id)
    except ValueError as exc:
        problem = problem or str(exc)
    located = entries if entries is not None else (fallback or [])
    bad: list[tuple[str, str]] = []
    expected = len(PACK_MAGIC)
    for blob, loc in sorted(located, key=lambda b: b[1].offset):
        if entries is not None and loc.offset != expected and problem is None:
            problem = "its blobs do not follow each other"
        expected = loc.offset + loc.length
        stored = data[loc.offset:loc.offset + loc.length]
        if len(stored) != loc.length:
            bad.append((blob, "corrupt"))
            continue
        try:
            decode(stored, loc.flags, loc.raw_length, blob, pack_id)
        except BlobError:
            bad.append((blob, "corrupt"))
    if entries is not None and problem is None:
        trailer_start = len(data) - FOOTER.size - len(entries) * ENTRY.size
        if expected != trailer_start:
            problem = "its blobs do not fill the pack"
    return PackCheck(entries, bad, problem)



def check_pack_or_error(path: Path, pack_id: str,
                        fallback: list[tuple[str, BlobLoc]] | None = None
                        ) -> PackCheck | OSError:
    """:func:`check_pack`, with an unreadable pack file as the result (for a pool)."""
    try:
        return check_pack(path, pack_id, fallback)
    except OSError as exc:
        return exc

def _trailer_of(data: bytes, pack_id: str) -> list[tuple[str, BlobLoc]]:
    end = len(data)
    if end < len(PACK_MAGIC) + FOOTER.size:
        raise ValueError("the pack is truncated")
    count, digest, magic = FOOTER.unpack_from(data, end - FOOTER.size)
    tlen = count * ENTRY.size
    if magic != END_MAGIC or tlen > end - FOOTER.size - len(PACK_MAGIC):
        raise ValueError("its footer is damaged")
    trailer = data[end - FOOTER.size - tlen:end - FOOTER.size]
    if blake3(trailer).digest() != digest:
        raise ValueError("its list of blobs is damaged")
    return decode_entries(trailer, pack_id)
