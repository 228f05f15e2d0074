"""The backup's freed buffers go back to the system (issue 11: peak RSS of a
full backup < 200 MB). Counts and the kernel's own RSS figures, no timing."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.process import memory
from core.repository import packsink
from tests.core.repository.test_repository import backup, build_tree, repo  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[3]


def test_every_written_pack_hands_its_freed_pages_back(repo, tmp_path, monkeypatch):
    calls: list[None] = []
    monkeypatch.setattr(packsink, "release_free_memory", lambda: calls.append(None))
    backup(repo, build_tree(tmp_path / "src"))
    packs = repo._layout.list_packs()
    assert packs and len(calls) == len(packs)


@pytest.mark.skipif(memory._libc() is None, reason="needs glibc's malloc_trim")
def test_release_free_memory_returns_freed_buffers_to_the_system():
    # A fresh interpreter: freed 2 MiB buffers below a live allocation stay
    # resident until release_free_memory. The environment pins what glibc
    # otherwise adapts as it goes (its mmap threshold rises after the first
    # large free), so the buffers come from the heap as they do in the server.
    script = textwrap.dedent("""
        from core.process.memory import release_free_memory

        def rss_mb():
            for line in open("/proc/self/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024

        buffers = [bytes([7]) * (2 << 20) for _ in range(100)]
        pin = bytes(64 << 10)        # allocated last: the heap cannot shrink from its top
        del buffers
        before = rss_mb()
        release_free_memory()
        print(before, rss_mb())
    """)
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(8 << 20),
           "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, check=True, env=env).stdout.split()
    before, after = int(out[0]), int(out[1])
    assert before >= 200 and before - after >= 150, (before, after)
