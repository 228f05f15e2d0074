"""How much of a file is in the page cache (mincore(2)), without reading it:
a probing read would start the kernel's read-ahead and change the answer."""
from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
from pathlib import Path

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p)


def cached_pages(path: Path) -> int:
    """The number of the file's pages that are in the page cache."""
    size = path.stat().st_size
    if not size:
        return 0
    with open(path, "rb") as f:
        m = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY)   # private: writable view
    try:
        base = ctypes.c_char.from_buffer(m)
        pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
        vec = ctypes.create_string_buffer(pages)
        if _libc.mincore(ctypes.addressof(base), size, vec) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(path))
        del base
        return sum(b & 1 for b in vec.raw)
    finally:
        m.close()
