"""Content-defined chunking (FastCDC) of a file's bytes into blocks.

New data is cut where the content says (a gear-hash boundary), not every
``block_size`` bytes, so inserting bytes into a large file changes only the
chunks around the insert. Sizes derive from the repository's ``block_size``:
average ``block_size``, minimum a quarter, maximum four times (256 KiB / 1 MiB /
4 MiB by default). Existing points made of fixed-size blocks stay valid: a
manifest lists blob ids, never offsets, so restore, verify and incremental reuse
do not care how a file was cut."""
from __future__ import annotations

from pyfastcdc import FastCDC

_AVG_MIN, _AVG_MAX = 256, 4 << 20
_MIN_MIN = 64
_MAX_MIN, _MAX_MAX = 1024, 16 << 20


class Chunker:
    """Cuts a stream fed in pieces. ``ends(data, final)`` says where the
    complete chunks at the front of ``data`` end; the caller keeps the rest
    and prefixes it to its next read; with ``final`` (end of file) nothing is
    kept. Boundaries are the same as cutting the whole file at once."""

    def __init__(self, block_size: int) -> None:
        avg = min(max(block_size, _AVG_MIN), _AVG_MAX)
        self.avg_size = avg
        self.min_size = max(avg // 4, _MIN_MIN)
        self.max_size = min(max(avg * 4, _MAX_MIN), _MAX_MAX)
        self.read_size = avg   # read this much at a time; cut once max_size is buffered
        self._cdc = FastCDC(avg_size=avg, min_size=self.min_size, max_size=self.max_size,
                            normalized_chunking=1)

    def ends(self, data: bytes | memoryview, final: bool) -> list[int]:
        """Where the complete chunks at the front of ``data`` end; with
        ``final`` the last end is ``len(data)``."""
        n = len(data)
        out = [c.offset + c.length for c in self._cdc.cut_buf(data)]
        if out and out[-1] == n and not final:
            out.pop()   # may continue in the next read
        return out

    def split(self, data: bytes) -> list[bytes]:
        """All chunks of a whole buffer."""
        ends = self.ends(data, True)
        return [data[start:end] for start, end in zip([0, *ends], ends)]
