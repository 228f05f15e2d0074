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

Reading streams the rows back blob by blob; the whole tree is never one
bytes object."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator

from core.errors import RepositoryError

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


def entry_chunks(entries: Iterable[Entry]) -> Iterator[bytes]:
    """The raw entry blobs of ``entries`` (one JSON row a line, cut by content)."""
    chunker = Chunker(ENTRY_CHUNK_AVG)
    buf = bytearray()
    cut_at = 2 * chunker.max_size
    for entry in entries:
        buf += _encode_row(entry).encode("ascii")
        buf += b"\n"
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


def _row(line: bytes) -> Entry:
    path, kind, mode, mtime_ns, size, ctime_ns, inode, blocks, target = json.loads(line)
    if not isinstance(path, str) or not isinstance(blocks, list):
        raise ValueError("malformed entry row")
    return Entry(path, kind, mode, mtime_ns, size, ctime_ns, inode, tuple(blocks), target)


def iter_entries(blob_ids: Iterable[str], read_blob: ReadBlob) -> Iterator[Entry]:
    """The rows of the entry blobs, in order, reading one blob at a time.
    ValueError if the stream is malformed; whatever ``read_blob`` raises
    propagates."""
    tail = b""
    for blob in blob_ids:
        data = tail + read_blob(blob) if tail else read_blob(blob)
        lines = data.split(b"\n")
        tail = lines.pop()
        for line in lines:
            yield _row(line)
    if tail:
        raise ValueError("the entry list ends inside a row")


class EntryBlobDamaged(RepositoryError):
    """An entry blob of a format-3 manifest has no intact copy."""

    def __init__(self, message: str, blob: str, pack: str | None, problem: str) -> None:
        super().__init__(message)
        self.blob = blob
        self.pack = pack
        self.problem = problem


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
        refreshed = False
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
        raise EntryBlobDamaged(
            f"Restore point {self.point_id} cannot be read: block {blob} of its entry list "
            f"(the list of its files) has no intact copy in repository {self._layout.root} "
            f"({why}). Restore another point of that computer, or run 'agent-jobs repair' "
            "and put the pack back from a copy of the repository.",
            blob, first.pack if first is not None else None,
            first.problem if first is not None else "missing")

    def close(self) -> None:
        if self._owns_reader:
            self._reader.close()
