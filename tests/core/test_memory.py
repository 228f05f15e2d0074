"""The backup's freed buffers go back to the system (issue 11: peak RSS of a
full backup < 200 MB). Counts and the kernel's own RSS figures, no timing."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core import memory
from core.repository import packsink
from tests.test_repository import backup, build_tree, repo  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]


def test_every_written_pack_hands_its_freed_pages_back(repo, tmp_path, monkeypatch):
    calls: list[None] = []
    monkeypatch.setattr(packsink, "release_free_memory", lambda: calls.append(None))
    backup(repo, build_tree(tmp_path / "src"))
    packs = repo._layout.list_packs()
    assert packs and len(calls) == len(packs)


@pytest.mark.skipif(memory._libc() is None, reason="needs glibc's malloc_trim")
def test_release_free_memory_returns_freed_buffers_to_the_system():
    # A fresh interpreter: 2 MiB buffers allocated and freed on another thread
    # (as the pool does) stay resident until release_free_memory.
    script = textwrap.dedent("""
        import threading
        from core.memory import release_free_memory

        def rss_mb():
            for line in open("/proc/self/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024

        held = []
        def churn():
            for round in range(3):
                buffers = [bytes([round + 1]) * (2 << 20) for _ in range(100)]
                held.append(bytes(100))        # keeps the heap's top in use
                del buffers
        worker = threading.Thread(target=churn)
        worker.start()
        worker.join()
        before = rss_mb()
        release_free_memory()
        print(before, rss_mb())
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    before, after = int(out[0]), int(out[1])
    assert before - after >= 100, (before, after)
