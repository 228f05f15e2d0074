"""Issue 13: FIFOs, sockets and devices are skipped with a note naming them;
sparse files come back sparse; hard links come back as links."""
from __future__ import annotations

import os
import socket
import stat

import pytest

from core.models import Computer, JobDefinition, SessionResult

pytestmark = pytest.mark.timeout(120)


def test_special_files_sparse_files_and_hard_links(service, tmp_path):
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    os.mkfifo(src / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(src / "d" / "agent.sock"))
    device = False
    try:
        os.mknod(src / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        device = True
    except OSError:
        pass
    sparse = src / "disk.img"
    with open(sparse, "wb") as f:
        f.truncate(64 << 20)
        f.seek(20 << 20)
        f.write(b"data in the middle of a hole")
    (src / "orig.txt").write_text("shared by two names\n")
    os.link(src / "orig.txt", src / "d" / "second-name.txt")
    try:
        service.create_job(JobDefinition(name="S", computers=(Computer(name="pc1",
                                                                       path=str(src)),)))
        session = service.wait_session(service.start_job("S"), 60)
    finally:
        sock.close()
    assert session.result is SessionResult.SUCCESS
    notes = [i.text for i in session.tasks[0].log if "special file" in i.text]
    assert len(notes) == 1
    assert "'pipe' (FIFO)" in notes[0] and "'d/agent.sock' (socket)" in notes[0]
    if device:
        assert "'null' (character device)" in notes[0]

    (point,) = service.list_points("S")
    out = tmp_path / "out"
    service.restore(point.id, out)
    restored = out / "disk.img"
    assert restored.stat().st_size == 64 << 20
    assert restored.stat().st_blocks * 512 <= 4 << 20          # holes, not 64 MiB of zeros
    with open(restored, "rb") as f:
        f.seek(20 << 20)
        assert f.read(28) == b"data in the middle of a hole"
    a, b = out / "orig.txt", out / "d" / "second-name.txt"
    assert a.read_text() == "shared by two names\n"
    assert a.stat().st_ino == b.stat().st_ino and a.stat().st_nlink == 2
    assert not (out / "pipe").exists() and not (out / "d" / "agent.sock").exists()
    assert service.verify().ok
