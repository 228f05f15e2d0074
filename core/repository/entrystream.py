"""The entry rows of a format-3 manifest, stored as ordinary data blobs.

A point's rows are written one JSON array per line, in the writer's order
(the walk's: depth-first and sorted, so an unchanged tree gives the same
stream), and the stream is cut into content-defined chunks (FastCDC, see
chunker). Each chunk is an ordinary blob: compressed, sealed in an encrypted
repository, stored in packs and indexed, deduplicated by id. An unchanged
run of rows gives the same chunks, so the manifest object of an unchanged
point only lists blob ids the repository already holds, and a copy job with
nothing new sends only that small object.

The chunk sizes are fixed here (not the repository's ``block_size``), so the
same rows cut the same way in every repository: a copied point's entry blobs
are the source's.

Each chunk is compressed here (a zstd frame) and the frame is the blob's
content, stored as it is: its id (blake3) then covers every stored byte, so
any change of a stored entry blob is found (a few bits of a compressed blob
can change without changing what it decodes to). The same rows give the
same frame, so the ids still deduplicate.

Reading streams the rows back blob by blob; the whole tree is never one
bytes object."""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

import zstandard

from core.errors import EntryBlobDamaged, RepositoryError

from core.repository.chunker import Chunker
from core.repository.damage import DamageRegistry
from core.repository.errors import BlobError
from core.repository.index import Index
from core.repository.layout import Layout
from core.repository.model import Entry
from core.repository.packfile import PackReader

ENTRY_CHUNK_AVG = 64 << 10   # 16 KiB .. 256 KiB chunks of rows
_encode_row = json.JSONEncoder(separators=(",", ":")).encode

ReadBlob = Callable[[str], bytes]
_GROUP = 512          # rows encoded at a time
_MAX_ROWS = 1 << 20   # decompressed bytes of one entry blob, at most (chunks are <= 256 KiB)
_local = threading.local()


def pack_rows(chunk: bytes) -> bytes:
    """An entry blob's content: the chunk of rows as a zstd frame."""
    c = getattr(_local, "cctx", None)
    if c is None:
        c = _local.cctx = zstandard.ZstdCompressor(level=3)
    return bytes(c.compress(chunk))


def unpack_rows(content: bytes) -> bytes:
    """The chunk of rows of an entry blob; ValueError if it is not one."""
    try:
        return bytes(zstandard.ZstdDecompressor().decompress(content,
                                                             max_output_size=_MAX_ROWS))
    except zstandard.ZstdError as exc:
        raise ValueError(f"an entry blob does not decompress ({exc})") from None


def entry_chunks(entries: Iterable[Entry]) -> Iterator[bytes]:
    """The chunks of rows of ``entries`` (one JSON row a line, cut by content);
    ``pack_rows`` of each is an entry blob."""
    chunker = Chunker(ENTRY_CHUNK_AVG)
    buf = bytearray()
    cut_at = 2 * chunker.max_size
    rows = iter(entries)
    while group := list(islice(rows, _GROUP)):
        buf += "".join([_encode_row(e) + "\n" for e in group]).encode("ascii")
        if len(buf) >= cut_at:
            start = 0
            with memoryview(buf) as view:
                ends = chunker.ends(view, False)
            for end in ends:
                yield bytes(buf[start:end])
                start = end
            del buf[:start]
    if buf:
        yield from chunker.split(bytes(buf))


def _row(row: list[Any]) -> Entry:
    path, kind, mode, mtime_ns, size, ctime_ns, inode, blocks, target = row
    if not isinstance(path, str) or not isinstance(blocks, list):
        raise ValueError("malformed entry row")
    return Entry(path, kind, mode, mtime_ns, size, ctime_ns, inode, tuple(blocks), target)


def iter_entries(blob_ids: Iterable[str], read_blob: ReadBlob) -> Iterator[Entry]:
    """The rows of the entry blobs, in order, reading one blob at a time
    (``read_blob``: a blob's content, verified against its id). ValueError if
    the stream is malformed; whatever ``read_blob`` raises propagates."""
    tail = b""
    for blob in blob_ids:
        rows = unpack_rows(read_blob(blob))
        data = tail + rows if tail else rows
        end = data.rfind(b"\n") + 1
        tail = data[end:]
        if end:
            # one JSON array of rows per blob (a JSON row never holds a raw newline)
            for row in json.loads(b"[" + data[:end - 1].replace(b"\n", b",") + b"]"):
                yield _row(row)
    if tail:
        raise ValueError("the entry list ends inside a row")


class EntryBlobReader:
    """``read(blob)``: an entry blob's raw bytes, verified against its id. A
    damaged copy is recorded (see damage) and another copy tried; a blob the
    index lacks is looked for once more after re-reading the index files.
    EntryBlobDamaged if no intact copy is left."""

    def __init__(self, layout: Layout, index: Index, damage: DamageRegistry | None,
                 point_id: str = "", reader: PackReader | None = None) -> None:
        self._layout = layout
        self._index = index
        self._damage = damage
        self._owns_reader = reader is None   # a restore's reader keeps its cached packs
        self._reader = reader if reader is not None else PackReader(layout)
        self.point_id = point_id
        self.bytes_read = 0

    def __call__(self, blob: str) -> bytes:
        problems: list[str] = []
        tried: set[str] = set()
        refreshed = moved = False
        first: BlobError | None = None
        while True:
            loc = self._index.blobs.get(blob)
            if loc is None and not refreshed:
                refreshed = True
                self._index.refresh()
                loc = self._index.blobs.get(blob)
            if loc is None or loc.pack in tried:
                break
            tried.add(loc.pack)
            try:
                raw = self._reader.read(blob, loc)
                self.bytes_read += loc.length
                return raw
            except BlobError as exc:
                if exc.problem == "missing" and not moved:
                    # a prune (browsing takes no lock) may have just moved the blob: its old
                    # pack is deleted only once the new index is written
                    moved = True
                    self._index.refresh(full=True)
                    again = self._index.blobs.get(blob)
                    if again is not None and again != loc:
                        tried.discard(loc.pack)
                        continue
                first = first or exc
                problems.append(str(exc))
                if self._damage is not None:
                    self._damage.update(add=[(blob, loc.pack, exc.problem)])
                    self._index.refresh(full=True)
                else:
                    break
            except OSError as exc:
                raise RepositoryError(
                    f"Cannot read the entry list of restore point {self.point_id} from "
                    f"repository {self._layout.root}: {exc.strerror or exc}. Check that its "
                    "storage is reachable, then try again.") from exc
        why = "; ".join(problems) if problems else "it is missing from the repository's index"
        unindexed = [] if problems else self._index.unindexed_packs()
        advice = (
            f"The repository has {len(unindexed)} pack file(s) that its index does not list "
            "(an index file was lost), which may hold it: run 'agent-jobs repair' to rebuild "
            "the index from the packs, then try again." if unindexed else
            "Restore another point of that computer, or put the pack back from a copy of the "
            "repository; the next backup of that computer stores the list again.")
        raise EntryBlobDamaged(
            f"Restore point {self.point_id} cannot be read: block {blob} of its entry list "
            f"(the list of its files) has no intact copy in repository {self._layout.root} "
            f"({why}). {advice}",
            blob, first.pack if first is not None else None,
            first.problem if first is not None else "missing")

    def close(self) -> None:
        if self._owns_reader:
            self._reader.close()
