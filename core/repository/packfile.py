"""Pack files: many blobs in one object, with a trailer listing them.

Layout of a plain pack::

    b"ABKPACK1"
    blob bytes ...                      (each blob stored raw or zstd-compressed)
    trailer: count x ENTRY              (blob id, offset, length, raw length, flags)
    footer:  FOOTER                     (count, blake3 of the trailer, b"ABKPEND1")

Layout of a sealed pack (encrypted repository)::

    sealed blobs ...                    (each blob compressed, then sealed)
    sealed trailer                      (the ENTRY list, sealed)
    footer:  SEALED_FOOTER              (length of the sealed trailer, b"ABKPENC1")

The trailer makes every pack self-describing, so the index can be rebuilt
from the packs alone (prune does this for packs no index file lists).
A pack is built in memory and saved in one ``Backend.save``.
"""
from __future__ import annotations

import secrets
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from typing import NamedTuple

from blake3 import blake3

from core.repository import immutability
from core.repository.backend import Backend
from core.repository.codec import decode
from core.repository.errors import BlobError
from core.repository.layout import Layout, SealDamaged
from core.repository.sealing import Sealer

PACK_MAGIC = b"ABKPACK1"
END_MAGIC = b"ABKPEND1"
SEALED_END = b"ABKPENC1"
ENTRY = struct.Struct("<32sQIIB")
FOOTER = struct.Struct("<I32s8s")
SEALED_FOOTER = struct.Struct("<I8s")


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


def header_size(sealer: Sealer) -> int:
    return 0 if sealer.encrypted else len(PACK_MAGIC)


class PackBuilder:
    """Collects blobs (already compressed and sealed) for a new pack;
    ``finish`` saves it in one durable save. The blobs are not copied into
    one buffer when the back end can write them as they are (a local folder
    writes them with writev)."""

    def __init__(self, layout: Layout) -> None:
        self.pack_id = new_pack_id()
        self._layout = layout
        head = b"" if layout.sealer.encrypted else PACK_MAGIC
        self._parts: list[bytes] = [head] if head else []
        self._len = len(head)
        self.blobs: list[tuple[str, BlobLoc]] = []

    @property
    def size(self) -> int:
        return self._len

    def add(self, blob: str, data: bytes, raw_length: int, flags: int) -> BlobLoc:
        loc = BlobLoc(self.pack_id, self._len, len(data), raw_length, flags)
        self._parts.append(data)
        self._len += len(data)
        self.blobs.append((blob, loc))
        return loc

    def finish(self) -> PackInfo:
        """Append the trailer and save the pack. OSError if it cannot be saved."""
        trailer = encode_entries(self.blobs)
        sealer = self._layout.sealer
        parts = self._parts
        if sealer.encrypted:
            sealed = sealer.seal(trailer)
            parts += (sealed, SEALED_FOOTER.pack(len(sealed), SEALED_END))
        else:
            parts += (trailer, FOOTER.pack(len(self.blobs), blake3(trailer).digest(), END_MAGIC))
        size = sum(len(p) for p in parts)
        backend = self._layout.backend
        name = self._layout.pack(self.pack_id)
        save_parts = getattr(backend, "save_parts", None)
        if save_parts is not None:
            save_parts(name, parts)
        else:
            backend.save(name, b"".join(parts))
        self._parts = []
        return PackInfo(self.pack_id, self.blobs, size)

    def discard(self) -> None:
        self._parts = []


def _parse_trailer(read: Callable[[int, int], bytes], end: int, pack_id: str,
                   layout: Layout) -> tuple[list[tuple[str, BlobLoc]], int]:
    """(entries, where the trailer starts); ValueError if the pack is damaged."""
    if layout.sealer.encrypted:
        if end < SEALED_FOOTER.size:
            raise ValueError("the pack is truncated")
        tlen, magic = SEALED_FOOTER.unpack(read(end - SEALED_FOOTER.size, SEALED_FOOTER.size))
        if magic != SEALED_END or tlen > end - SEALED_FOOTER.size:
            raise ValueError("its footer is damaged")
        start = end - SEALED_FOOTER.size - tlen
        try:
            trailer = layout.open_sealed(read(start, tlen))
        except SealDamaged:
            raise ValueError("its list of blobs is damaged") from None
        if len(trailer) % ENTRY.size:
            raise ValueError("its list of blobs is damaged")
        return decode_entries(trailer, pack_id), start
    if end < len(PACK_MAGIC) + FOOTER.size:
        raise ValueError("the pack is truncated")
    count, digest, magic = FOOTER.unpack(read(end - FOOTER.size, FOOTER.size))
    tlen = count * ENTRY.size
    if magic != END_MAGIC or tlen > end - FOOTER.size - len(PACK_MAGIC):
        raise ValueError("its footer is damaged")
    start = end - FOOTER.size - tlen
    trailer = read(start, tlen)
    if blake3(trailer).digest() != digest:
        raise ValueError("its list of blobs is damaged")
    return decode_entries(trailer, pack_id), start


def read_trailer(layout: Layout, pack_id: str, size: int | None = None
                 ) -> list[tuple[str, BlobLoc]]:
    """List a pack's blobs from its trailer (two ranged loads); ValueError if
    the pack is damaged, OSError if it cannot be read."""
    name = layout.pack(pack_id)
    backend = layout.backend
    if size is None:
        size = backend.stat(name).size

    def read(offset: int, length: int) -> bytes:
        return backend.load(name, offset, length)

    return _parse_trailer(read, size, pack_id, layout)[0]


def open_blob(layout: Layout, blob: str, loc: BlobLoc, stored: bytes) -> bytes:
    """The raw block from its stored (sealed, compressed) bytes, verified
    against its id; BlobError if it is corrupt."""
    try:
        data = layout.open_sealed(stored)
    except SealDamaged as exc:
        raise BlobError(blob, loc.pack, "corrupt", f"({exc})") from None
    return decode(data, loc.flags, loc.raw_length, blob, loc.pack)


# Object storage answers each request after a round trip and costs the client
# CPU per request, so whole packs are fetched once and kept (a few, LRU)
# rather than one ranged GET per blob; a local folder reads ranges directly.
_WHOLE_PACK_KINDS = ("s3",)
_CACHED_PACK_BYTES = 64 << 20   # four full packs


class PackReader:
    """Reads blobs by location: ranged loads from a local folder, whole packs
    (cached) from object storage. Safe to share between threads."""

    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self._backend: Backend = layout.backend
        self._whole_packs = getattr(self._backend, "kind", "") in _WHOLE_PACK_KINDS
        self._packs: OrderedDict[str, Future[bytes]] = OrderedDict()
        self._packs_lock = threading.Lock()
        self._cached_bytes = 0

    def _pack_bytes(self, pack_id: str) -> bytes:
        """The whole pack, loaded once however many threads ask for it."""
        with self._packs_lock:
            fut = self._packs.get(pack_id)
            mine = fut is None
            if fut is None:
                fut = self._packs[pack_id] = Future()
            else:
                self._packs.move_to_end(pack_id)
        if not mine:
            return fut.result()
        try:
            data = self._backend.load(self._layout.pack(pack_id))
        except BaseException as exc:
            with self._packs_lock:
                if self._packs.get(pack_id) is fut:
                    del self._packs[pack_id]
            fut.set_exception(exc)
            raise
        fut.set_result(data)
        with self._packs_lock:
            self._cached_bytes += len(data)
            while self._cached_bytes > _CACHED_PACK_BYTES and len(self._packs) > 1:
                old_id, old = next(iter(self._packs.items()))
                if not old.done():   # still loading: younger than the rest, keep it
                    self._packs.move_to_end(old_id)
                    continue
                del self._packs[old_id]
                if old.exception() is None:
                    self._cached_bytes -= len(old.result())
        return data

    def read_stored(self, blob: str, loc: BlobLoc) -> bytes:
        try:
            if self._whole_packs:
                data = self._pack_bytes(loc.pack)[loc.offset:loc.offset + loc.length]
            else:
                data = self._backend.load(self._layout.pack(loc.pack), loc.offset, loc.length)
        except FileNotFoundError:
            raise BlobError(blob, loc.pack, "missing", "(pack file is missing)") from None
        if len(data) != loc.length:
            raise BlobError(blob, loc.pack, "corrupt", "(pack file is truncated)")
        return data

    def read_range(self, pack_id: str, offset: int, length: int) -> bytes:
        """``length`` stored bytes of a pack from ``offset`` in one load (the
        blobs of a batch of small files that lie close together); fewer bytes
        if the pack is shorter. Decoding and checking is the caller's (see
        :func:`open_blob`); FileNotFoundError if the pack is missing."""
        if self._whole_packs:
            return self._pack_bytes(pack_id)[offset:offset + length]
        return self._backend.load(self._layout.pack(pack_id), offset, length)

    def open(self, blob: str, loc: BlobLoc, stored: bytes) -> bytes:
        """The raw block from stored bytes read with :meth:`read_range`;
        BlobError if they fail the check (then :meth:`read` it on its own,
        which looks for an intact copy)."""
        if len(stored) != loc.length:
            raise BlobError(blob, loc.pack, "corrupt", "(pack file is truncated)")
        return open_blob(self._layout, blob, loc, stored)

    def read(self, blob: str, loc: BlobLoc) -> bytes:
        """The raw block, verified against its id. On an immutable repository a
        block that fails its check is looked for in the older locked versions
        of its pack (an attacker's newer locked version is rejected)."""
        lock = immutability.object_lock(self._backend)
        seen = lock.serving(self._layout.pack(loc.pack)) if lock is not None else None
        try:
            return open_blob(self._layout, blob, loc, self.read_stored(blob, loc))
        except BlobError as exc:
            if lock is None or exc.problem == "missing":
                raise
            first = exc
        self._forget(loc.pack)
        name = self._layout.pack(loc.pack)
        whole = self._whole_packs

        def check(data: bytes) -> bytes:
            stored = data[loc.offset:loc.offset + loc.length] if whole else data
            if len(stored) != loc.length:
                raise BlobError(blob, loc.pack, "corrupt", "(pack file is truncated)")
            return open_blob(self._layout, blob, loc, stored)

        if lock.serving(name) != seen:     # another reader moved on to an older version
            try:
                return open_blob(self._layout, blob, loc, self.read_stored(blob, loc))
            except BlobError:
                seen = lock.serving(name)
        done, raw = immutability.fall_back(
            self._backend, name, seen, str(first), check,
            *((0, None) if whole else (loc.offset, loc.length)))
        if not done or raw is None:
            raise first
        return raw

    def _forget(self, pack_id: str) -> None:
        """Drop a cached pack (its bytes failed a check)."""
        with self._packs_lock:
            fut = self._packs.get(pack_id)
            if fut is not None and fut.done():
                del self._packs[pack_id]
                if fut.exception() is None:
                    self._cached_bytes -= len(fut.result())

    def close(self) -> None:
        with self._packs_lock:
            self._packs.clear()
            self._cached_bytes = 0
        drop = getattr(self._backend, "drop_cache", None)
        if drop is not None:
            drop()


class PackCheck(NamedTuple):
    """The outcome of reading a whole pack back."""

    entries: list[tuple[str, BlobLoc]] | None   # from the trailer; None if it is damaged
    bad: list[tuple[str, str]]                  # (blob, problem) for blobs that fail to decode
    problem: str | None                         # damage to the pack's own structure


def check_pack(layout: Layout, pack_id: str,
               fallback: list[tuple[str, BlobLoc]] | None = None) -> PackCheck:
    """Read a pack completely: header, every blob, trailer and footer, so that
    any changed byte is found. ``fallback`` (the index's entries for the pack)
    locates the blobs when the trailer is damaged. OSError if unreadable. On
    an immutable repository a pack that fails is checked again in its older
    locked versions: the first intact one is adopted."""
    name = layout.pack(pack_id)
    lock = immutability.object_lock(layout.backend)
    seen = lock.serving(name) if lock is not None else None
    result = _check_pack_bytes(layout, pack_id, fallback, layout.backend.load(name))
    if lock is None or (not result.bad and result.problem is None):
        return result

    def intact(data: bytes) -> PackCheck:
        again = _check_pack_bytes(layout, pack_id, fallback, data)
        if again.bad or again.problem is not None:
            raise ValueError(again.problem or f"{len(again.bad)} block(s) are corrupt")
        return again

    why = result.problem or f"{len(result.bad)} block(s) are corrupt"
    done, good = immutability.fall_back(layout.backend, name, seen, f"the pack {why}", intact)
    return good if done and good is not None else result


def _check_pack_bytes(layout: Layout, pack_id: str, fallback: list[tuple[str, BlobLoc]] | None,
                      data: bytes) -> PackCheck:
    problem: str | None = None
    entries: list[tuple[str, BlobLoc]] | None = None
    if not layout.sealer.encrypted and not data.startswith(PACK_MAGIC):
        problem = "its header is damaged"
    trailer_start = -1
    try:
        entries, trailer_start = _parse_trailer(
            lambda o, n: data[o:o + n], len(data), pack_id, layout)
    except ValueError as exc:
        problem = problem or str(exc)
    located = entries if entries is not None else (fallback or [])
    bad: list[tuple[str, str]] = []
    expected = header_size(layout.sealer)
    for blob, loc in sorted(located, key=lambda b: b[1].offset):
        if entries is not None and loc.offset != expected and problem is None:
            problem = "its blobs do not follow each other"
        expected = loc.offset + loc.length
        stored = data[loc.offset:loc.offset + loc.length]
        if len(stored) != loc.length:
            bad.append((blob, "corrupt"))
            continue
        try:
            open_blob(layout, blob, loc, stored)
        except BlobError:
            bad.append((blob, "corrupt"))
    if entries is not None and problem is None and expected != trailer_start:
        problem = "its blobs do not fill the pack"
    return PackCheck(entries, bad, problem)


def check_pack_or_error(layout: Layout, pack_id: str,
                        fallback: list[tuple[str, BlobLoc]] | None = None
                        ) -> PackCheck | OSError:
    """:func:`check_pack`, with an unreadable pack as the result (for a pool)."""
    try:
        return check_pack(layout, pack_id, fallback)
    except OSError as exc:
        return exc
