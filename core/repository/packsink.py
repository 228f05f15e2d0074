"""Where a writer's new blobs go: encoded (and, in an encrypted repository,
sealed) on pool threads, appended to the writer's current pack in memory,
full packs saved by the thread that filled them, so the caller's thread only
reads and hashes."""
from __future__ import annotations

import threading
from time import monotonic, perf_counter

from core.errors import RepositoryError
from core.process.memory import release_free_memory

from core.repository.codec import encode
from core.repository.errors import write_error
from core.repository.layout import Layout
from core.repository.packfile import PackBuilder, PackInfo


def finish_pack(pack: PackBuilder) -> PackInfo:
    try:
        return pack.finish()
    except BaseException:
        pack.discard()
        raise


# A pack is kept in memory until it is full (pack_size), so a slow (throttled)
# backup would hold up to pack_size per computer for minutes; seal a pack once it
# has been open this long instead. It also bounds what a crash can lose.
MAX_PACK_AGE_S = 30.0
_clock = monotonic   # replaced by tests


class PackSink:
    def __init__(self, layout: Layout, pack_size: int) -> None:
        self._layout = layout
        self._root = layout.root
        self._pack_size = pack_size
        self._lock = threading.Lock()
        self._pack: PackBuilder | None = None
        self._pack_opened = 0.0
        self._durable: list[PackInfo] = []
        self._broken: RepositoryError | None = None
        self.bytes_new = 0
        self.blobs_new = 0
        # Timing hook (the engine's bottleneck figures): thread-seconds spent
        # compressing and writing, and the new blocks' size before compression.
        self.encode_s = 0.0
        self.write_s = 0.0
        self.raw_bytes_new = 0

    def store(self, blocks: list[tuple[str, bytes]]) -> None:
        """Encode and append blocks; runs on a pool thread. RepositoryError on failure."""
        t0 = perf_counter()
        encoded = [(h, *encode(block), len(block)) for h, block in blocks]
        sealer = self._layout.sealer
        if sealer.encrypted:
            encoded = [(h, sealer.seal(data), flags, n) for h, data, flags, n in encoded]
        t1 = perf_counter()
        self._append(encoded, t0, t1)

    def _append(self, encoded: list[tuple[str, bytes, int, int]], t0: float, t1: float) -> None:
        full: list[PackBuilder] = []
        with self._lock:
            self._check_broken()
            try:
                for h, data, flags, raw_length in encoded:
                    pack = self._pack
                    if pack is None:
                        pack = self._pack = PackBuilder(self._layout)
                        self._pack_opened = _clock()
                    pack.add(h, data, raw_length, flags)
                    self.bytes_new += len(data)
                    self.blobs_new += 1
                    self.raw_bytes_new += raw_length
                    if pack.size >= self._pack_size:
                        full.append(pack)
                        self._pack = None
                if self._pack is not None and _clock() - self._pack_opened >= MAX_PACK_AGE_S:
                    full.append(self._pack)
                    self._pack = None
            except OSError as exc:
                self._broken = write_error(self._root, exc, "a pack file")
                raise self._broken from exc
            finally:
                self.encode_s += t1 - t0
                self.write_s += perf_counter() - t1
        if full:
            t2 = perf_counter()
            for pack in full:
                self._seal(pack)
            with self._lock:
                self.write_s += perf_counter() - t2

    def store_encoded(self, blobs: list[tuple[str, bytes, int, int]]) -> None:
        """Append blobs already encoded elsewhere (a copy from another
        repository: (id, stored bytes, flags, raw length), compressed as they
        were there, verified by the caller); sealed here under this
        repository's key. Runs on a pool thread. RepositoryError on failure."""
        t0 = perf_counter()
        sealer = self._layout.sealer
        if sealer.encrypted:
            blobs = [(h, sealer.seal(data), flags, n) for h, data, flags, n in blobs]
        t1 = perf_counter()
        self._append(blobs, t0, t1)

    def seal_current(self) -> None:
        """Seal the partly filled pack (at commit)."""
        with self._lock:
            self._check_broken()
            pack, self._pack = self._pack, None
        if pack is not None:
            self._seal(pack)

    def _seal(self, pack: PackBuilder) -> None:
        try:
            info = finish_pack(pack)
        except OSError as exc:
            with self._lock:
                self._broken = write_error(self._root, exc, "a pack file")
            raise self._broken from exc
        with self._lock:
            self._durable.append(info)
        release_free_memory()   # the pack's buffers (up to pack_size) were just freed

    def _check_broken(self) -> None:
        if self._broken is not None:
            # A fresh exception per raise: several threads may be raising it.
            raise RepositoryError(str(self._broken))

    @property
    def durable_count(self) -> int:
        return len(self._durable)

    def take_durable(self) -> list[PackInfo]:
        """Packs sealed since the last call: fsynced and in place, ready to index."""
        with self._lock:
            packs, self._durable = self._durable, []
        return packs

    def discard(self) -> None:
        """Drop the open pack (abort); call only when no store is running."""
        with self._lock:
            pack, self._pack = self._pack, None
        if pack is not None:
            pack.discard()
