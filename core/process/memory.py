"""Memory tuning for the processes that run backups: glibc malloc, and the
garbage collector.

glibc gives each thread that allocates its own arena (up to 8 per core), and
the backup's reader, pool and event threads each keep megabytes of freed
1-4 MiB chunk buffers in theirs. Two arenas lowered the peak memory of a full
backup of the benchmark set from 265 to 245 MB at no cost in speed; handing
the freed pages back after every pack is written (``release_free_memory``)
took it to about 190 MB, again at no measurable cost. (A fixed 1 MiB mmap
threshold also gave 189 MB but made the full backup about 20 % and restore
about 45 % slower, so it is not used; see tests/benchmarks/RESULTS.md.)"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import cache

M_ARENA_MAX = -8
SERVER_ARENAS = 2
# A backup allocates an entry per file and the server keeps the last
# manifests (20,000 entries each on the benchmark set), so the collector's
# default of a young-generation pass every 700 allocations led to full
# passes over them about every other backup: an unchanged backup took 0.21
# or 0.27 s, alternately. Every 50,000 allocations it takes 0.22 s each time;
# what the engine frees goes by reference counting, not by the collector.
SERVER_GC_THRESHOLDS = (50_000, 20, 10)


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt, libc.malloc_trim   # glibc only
    except (OSError, AttributeError):
        return None
    return libc


def limit_malloc_arenas(arenas: int = SERVER_ARENAS) -> bool:
    """Call before the server starts its threads; False where not glibc."""
    libc = _libc()
    return libc is not None and bool(libc.mallopt(M_ARENA_MAX, arenas))


def release_free_memory() -> None:
    """Give the pages of freed buffers back to the system (malloc_trim); a
    no-op where not glibc. Cheap enough to call once per written pack."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def tune_gc(thresholds: tuple[int, int, int] = SERVER_GC_THRESHOLDS) -> None:
    """Collect cyclic garbage less often (see SERVER_GC_THRESHOLDS)."""
    gc.set_threshold(*thresholds)
