"""Issue 19 ("Leave it running"), file descriptors: a server closes what each
session opens, so it runs for ever under a low RLIMIT_NOFILE, and a process
that does reach its limit says "Too many open files", not "check the disk"."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from core.catalogue import Catalogue
from tests.reliability.helpers import ENV, ROOT

SOAK = ROOT / "tests" / "benchmarks" / "soak_sessions.py"


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.timeout(240)
def test_two_hundred_sessions_under_nofile_256_leave_descriptors_and_memory_flat(
        tmp_path: Path) -> None:
    """The soak's quick mode: 200 short sessions through a real server process
    under prlimit --nofile=256 (before the fix, session 59 on failed)."""
    out = tmp_path / "soak.json"
    run = subprocess.run([sys.executable, str(SOAK), "--quick", "--json-out", str(out)],
                         capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=220)
    assert out.is_file(), run.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["nofile_limit"] == 256
    assert result["sessions"] == 200 and result["failures"] == 0, result["first_failures"]
    bounds = result["bounds"]
    assert result["fds_end"] - result["fds_start"] <= bounds["fds_end_minus_start_max"], result
    assert result["rss_end_mib"] - result["rss_start_mib"] <= \
        bounds["rss_end_minus_start_max_mib"], result
    assert result["ok"] and run.returncode == 0, run.stderr[-2000:]


def test_a_thread_that_ends_leaves_no_catalogue_connection_open(tmp_path: Path) -> None:
    catalogue = Catalogue(tmp_path / "catalogue.sqlite")

    def threads_come_and_go(count: int) -> int:
        for _ in range(count):
            worker = threading.Thread(target=catalogue.jobs)
            worker.start()
            worker.join()
        # The next thread to open a connection closes those of ended threads.
        worker = threading.Thread(target=lambda: (catalogue.jobs(), catalogue.release_thread()))
        worker.start()
        worker.join()
        return _fds()

    try:
        catalogue.jobs()
        before = _fds()
        after_twenty = threads_come_and_go(20)
        after_forty = threads_come_and_go(20)
        # SQLite keeps one closed descriptor of the file for reuse while another
        # connection of the process holds a lock on it: one, not one per thread.
        assert after_forty == after_twenty <= before + 1
        assert catalogue.open_connections == 1   # this thread's
    finally:
        catalogue.close()


_AT_THE_LIMIT = textwrap.dedent("""
    import os, resource, sys
    from pathlib import Path
    from core.catalogue import Catalogue
    from core.errors import ConsoleError
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    held = []
    try:
        while True:
            held.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass
    try:
        Catalogue(Path(sys.argv[1]))
    except ConsoleError as exc:
        print(str(exc))
""")


def test_a_process_out_of_descriptors_is_told_so_not_to_check_its_disk(tmp_path: Path) -> None:
    """Real EMFILE: the limit lowered to 64 in a child and every descriptor taken."""
    catalogue = tmp_path / "data" / "catalogue.sqlite"
    Catalogue(catalogue).close()
    run = subprocess.run([sys.executable, "-c", _AT_THE_LIMIT, str(catalogue)],
                         capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=60)
    line = run.stdout.strip()
    assert "Traceback" not in run.stderr, run.stderr
    assert line.startswith("Too many open files"), line
    assert "limit 64" in line and "LimitNOFILE" in line and "attached" not in line, line
    assert len(line.splitlines()) == 1
