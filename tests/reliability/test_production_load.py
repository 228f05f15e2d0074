"""Yield to production against a real competing load: fio's random O_DIRECT reads on the same
disk, with the machine's real pressure (Linux PSI, ``/proc/pressure/io``). About 20 s.

The backup reads a cold file (evicted from the page cache) while fio runs. Without the
setting it reads on at full speed; with it, it holds while fio's stalls keep io pressure
above the threshold, and reads again within 2 s of fio ending. fio's throughput itself is
compared in ``tests/benchmarks/bench_governor.py`` (medians over rounds): on a machine shared
with other work one short run is too noisy to assert on.

Only io pressure is watched here (the governor's PSI folder links ``/proc/pressure/io``
alone): on a shared test machine other processes keep cpu pressure high on their own."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from core.agents.ssh.agent_src.backup_agent.governor import PSI_ENV
from core.models import Computer, JobDefinition, StopMode

MiB = 1 << 20
THRESHOLD = 5      # percent: fio's stalls alone keep this disk's io pressure at 10-15 %
FIO_S = 2.5

pytestmark = pytest.mark.skipif(
    not Path("/proc/pressure/io").exists() or shutil.which("fio") is None,
    reason="needs Linux PSI (/proc/pressure/io) and fio")


def io_total() -> int:
    with open("/proc/pressure/io") as f:
        return int(f.readline().split("total=")[1])


def fio(target: Path, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["fio", "--name=production", f"--filename={target}", "--size=128M", "--rw=randread",
         "--bs=4k", "--direct=1", "--ioengine=psync", f"--runtime={seconds}", "--time_based",
         "--output-format=json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def iops(proc: subprocess.Popen[str]) -> float:
    out, _ = proc.communicate(timeout=60)
    return float(json.loads(out)["jobs"][0]["read"]["iops"])


def evict(path: Path) -> None:
    """Out of the page cache, so that the backup reads the disk beside fio. fadvise alone
    sometimes left the file cached under the suite's parallel load (the backup then read
    1 GiB from memory before the governor's first sample and never competed): as root,
    the clean page cache is dropped too."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("1\n")
    except OSError:   # not root, or a container that forbids it: fadvise has to do
        pass


def io_stall_us() -> int:
    """/proc/pressure/io's ``some`` total: microseconds some task stalled on io."""
    some = Path("/proc/pressure/io").read_text().splitlines()[0]
    return int(some.rsplit("total=", 1)[1])


def competing_run(service, name: str, source: Path, fio_file: Path, governed: bool) -> dict:
    """A backup of the cold source while fio runs: its read rate in fio's middle second
    onwards, fio's IOPS, the seconds it held, and how soon after fio it read again."""
    evict(source / "big.bin")
    service.create_job(JobDefinition(name=name, computers=(Computer(name="pc", path=str(source)),),
                                     yield_to_production=governed, pressure_threshold=THRESHOLD))
    sid = service.start_job(name, full=True)
    task = lambda: service.get_session(sid).tasks[0]  # noqa: E731
    tick = threading.Event()
    while task().bytes_read == 0:
        tick.wait(0.01)
    proc = fio(fio_file, FIO_S)
    tick.wait(0.5)                 # fio under way: measure the backup from here on
    read0, t0 = task().bytes_read, time.monotonic()
    result = {"iops": iops(proc)}
    ended, at_end = time.monotonic(), task()
    read1 = at_end.bytes_read
    result["finished_early"] = at_end.status.is_final   # done before fio: nothing competed
    result["backup_mib_s"] = (read1 - read0) / MiB / (ended - t0)
    stalls0 = io_stall_us()
    while time.monotonic() - ended < 5 and task().bytes_read == read1 \
            and not task().status.is_final:
        tick.wait(0.01)
    result["resumed_s"] = time.monotonic() - ended
    # the io pressure while it waited: other work on the machine (a test run beside
    # this one) may keep it above the threshold after fio, and then holding is right
    result["pressure_after"] = (io_stall_us() - stalls0) / 1e4 / max(result["resumed_s"], 0.01)
    result["held_s"] = task().production_s
    result["why"] = task().production_why
    if not service.get_session(sid).state.value == "Stopped":
        service.stop_job(name, StopMode.IMMEDIATELY)
    service.wait_session(sid, timeout=10)
    return result


def test_a_yielding_backup_holds_under_fio_and_resumes_after(service, tmp_path, monkeypatch):
    psi = tmp_path / "psi"
    psi.mkdir()
    (psi / "io").symlink_to("/proc/pressure/io")
    monkeypatch.setenv(PSI_ENV, str(psi))
    fio_file = tmp_path / "production.dat"
    iops(fio(fio_file, 0.5))                 # lays fio's file out
    source = tmp_path / "src"
    source.mkdir()
    block = os.urandom(32 * MiB)             # repeated: the backup's writes stay small
    with open(source / "big.bin", "wb") as f:
        for _ in range(32):             # 1 GiB: the plain backup outlasts fio
            f.write(block)

    before, t0 = io_total(), time.monotonic()
    solo = iops(fio(fio_file, FIO_S))
    solo_pressure = (io_total() - before) / ((time.monotonic() - t0) * 1e6) * 100
    if solo_pressure < THRESHOLD * 1.5:
        pytest.skip(f"this disk's PSI barely sees fio ({solo_pressure:.1f} % io pressure)")

    plain = competing_run(service, "Plain", source, fio_file, governed=False)
    yielding = competing_run(service, "Yielding", source, fio_file, governed=True)
    print(f"fio solo {solo:.0f} IOPS ({solo_pressure:.1f} % io pressure); with a backup "
          f"{plain['iops']:.0f} ({plain['backup_mib_s']:.0f} MiB/s read); with a yielding "
          f"backup {yielding['iops']:.0f} ({yielding['backup_mib_s']:.1f} MiB/s read, held "
          f"{yielding['held_s']:.1f} s, {yielding['why']}, resumed "
          f"{yielding['resumed_s']:.2f} s after fio)")
    assert not yielding["finished_early"]
    assert plain["held_s"] == 0 and plain["backup_mib_s"] > 20
    assert yielding["held_s"] >= FIO_S - 1
    assert yielding["why"].startswith("io pressure ")
    assert yielding["backup_mib_s"] < plain["backup_mib_s"] / 2
    assert yielding["resumed_s"] < 2.0 or yielding["pressure_after"] > THRESHOLD, yielding
