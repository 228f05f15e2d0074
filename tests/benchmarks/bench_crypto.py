"""How fast the repository's encryption is.

* seal / open: MB/s of MasterKey.seal and MasterKey.open on 1 MiB blobs (best
  of three passes; the first pass is also given, it includes page faults);
* unlock: seconds to open a key object with the default scrypt parameters
  (the cost a password guess has too).

Run on demand: ``.venv/bin/python tests/benchmarks/bench_crypto.py [--blobs N]``.
Prints JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.repository.backend.memory import MemoryBackend  # noqa: E402
from core.repository.crypto import MasterKey  # noqa: E402
from core.repository.keys import DEFAULT_N, DEFAULT_P, DEFAULT_R, create_key, unlock  # noqa: E402

MB = 1_000_000
BLOB = 1 << 20


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blobs", type=int, default=256, help="1 MiB blobs per pass")
    parser.add_argument("--unlocks", type=int, default=5)
    args = parser.parse_args()

    key = MasterKey.generate()
    blobs = [os.urandom(BLOB) for _ in range(8)]
    count = args.blobs
    sealed = [key.seal(blob) for blob in blobs]
    seal_s: list[float] = []
    open_s: list[float] = []
    for _ in range(3):      # the first pass pays for the allocator's page faults
        start = time.perf_counter()
        for i in range(count):
            key.seal(blobs[i % len(blobs)])
        seal_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(count):
            key.open(sealed[i % len(sealed)])
        open_s.append(time.perf_counter() - start)

    backend = MemoryBackend("bench")
    create_key(backend, "benchmark password")
    times = []
    for _ in range(args.unlocks):
        start = time.perf_counter()
        unlock(backend, "benchmark password")
        times.append(time.perf_counter() - start)

    print(json.dumps({
        "blob_bytes": BLOB, "blobs": count,
        "seal_MB_s": round(count * BLOB / MB / min(seal_s), 1),
        "open_MB_s": round(count * BLOB / MB / min(open_s), 1),
        "seal_first_pass_MB_s": round(count * BLOB / MB / seal_s[0], 1),
        "unlock_default": {"n": DEFAULT_N, "r": DEFAULT_R, "p": DEFAULT_P,
                           "runs": len(times),
                           "median_s": round(statistics.median(times), 3),
                           "max_s": round(max(times), 3)},
    }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
