"""Blob encoding: blake3 ids and zstd compression.

Each thread gets its own single-threaded compressor and decompressor
(zstandard objects are not thread-safe); both release the GIL while working,
so a thread pool compresses on all cores."""
from __future__ import annotations

import threading

import zstandard
from blake3 import blake3

from core.repository.errors import BlobError

COMPRESSION_LEVEL = 3
FLAG_COMPRESSED = 1
# Keep the compressed form only if it saves at least 1/32 of the block; otherwise
# restore would pay decompression for nothing.
_MIN_SAVING_SHIFT = 5

_local = threading.local()


def blob_id(raw: bytes | memoryview) -> str:
    return blake3(raw).hexdigest()


def _compressor() -> zstandard.ZstdCompressor:
    c = getattr(_local, "cctx", None)
    if c is None:
        c = _local.cctx = zstandard.ZstdCompressor(level=COMPRESSION_LEVEL)
    return c


def _decompressor() -> zstandard.ZstdDecompressor:
    d = getattr(_local, "dctx", None)
    if d is None:
        d = _local.dctx = zstandard.ZstdDecompressor()
    return d


def encode(raw: bytes) -> tuple[bytes, int]:
    """Return (stored bytes, flags) for a raw block."""
    packed = _compressor().compress(raw)
    if len(packed) <= len(raw) - (len(raw) >> _MIN_SAVING_SHIFT) - 1:
        return packed, FLAG_COMPRESSED
    return raw, 0


def decode(stored: bytes, flags: int, raw_length: int, expected_id: str, pack: str) -> bytes:
    """Return the raw block, checking its length and hash; BlobError if it is corrupt."""
    if flags & FLAG_COMPRESSED:
        try:
            raw = _decompressor().decompress(stored, max_output_size=raw_length)
        except zstandard.ZstdError as exc:
            raise BlobError(expected_id, pack, "corrupt", f"(cannot decompress: {exc})") from None
    else:
        raw = stored
    if len(raw) != raw_length or blake3(raw).hexdigest() != expected_id:
        raise BlobError(expected_id, pack, "corrupt", "(content does not match its id)")
    return raw
