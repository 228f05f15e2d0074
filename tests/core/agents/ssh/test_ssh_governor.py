"""Yield to production at an SSH computer: its agent (the shipped stdlib payload) watches
the computer's own pressure (here a fake PSI folder, named to the agent through sshd's
SetEnv), holds at a chunk boundary while it is high, tells the server live, and resumes
when it falls; an immediate stop while held ends within a second."""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.agents.ssh.agent_src.backup_agent.governor import PSI_ENV
from core.api.text import session_figures
from core.models import SessionResult, Stage, StopMode, TaskStatus
from tests.conftest import wait_until
from tests.core.agents.ssh.test_ssh_agent import data_dir, random_file, service, ssh_job  # noqa: F401
from tests.support.psi import FakePsi
from tests.support.sshd import Sshd, sshd_available, start_sshd

pytestmark = pytest.mark.skipif(not sshd_available(), reason="needs /usr/sbin/sshd (openssh-server)")

MB = 1 << 20
HELD = "Yielding to production"


@pytest.fixture(scope="module")
def psi_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("psi")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory, psi_dir) -> Iterator[Sshd]:
    server = start_sshd(tmp_path_factory.mktemp("sshd"),
                        env={PSI_ENV: str(psi_dir)})
    yield server
    server.stop()


@pytest.fixture
def psi(psi_dir) -> Iterator[FakePsi]:
    fake = FakePsi(psi_dir, io=90)
    yield fake
    fake.close()


def held(service, sid: str) -> bool:
    return any(HELD in i.text for i in service.get_session(sid).tasks[0].log)


def test_held_at_the_computer_stop_immediately(service, sshd, psi, tmp_path):  # noqa: F811
    src = tmp_path / "busy"
    src.mkdir()
    random_file(src / "big.bin", 24 * MB, seed=3)
    ssh_job(service, sshd, "Busy", {"web1": src}, throttle_mbps=8, yield_to_production=True)
    sid = service.start_job("Busy")
    wait_until(lambda: held(service, sid), timeout=30)
    wait_until(lambda: service.get_session(sid).tasks[0].production_s >= 1.0, timeout=10)
    task = service.get_session(sid).tasks[0]
    assert re.fullmatch(r"io pressure \d+ % > 20 %", task.production_why)
    t0 = time.monotonic()
    service.stop_job("Busy", StopMode.IMMEDIATELY)
    session = service.wait_session(sid, timeout=1.0)
    assert time.monotonic() - t0 < 1.0
    assert session.tasks[0].status is TaskStatus.CANCELLED


def test_held_at_the_computer_resumes_when_pressure_falls(service, sshd, psi, tmp_path):  # noqa: F811
    src = tmp_path / "busy"
    src.mkdir()
    data = random_file(src / "big.bin", 12 * MB, seed=4)
    ssh_job(service, sshd, "Busy", {"web1": src}, throttle_mbps=8, yield_to_production=True)
    sid = service.start_job("Busy")
    wait_until(lambda: held(service, sid), timeout=30)
    wait_until(lambda: service.get_session(sid).tasks[0].production_s >= 1.0, timeout=10)
    read = service.get_session(sid).tasks[0].bytes_read
    psi.set(io=0)
    t0 = time.monotonic()
    wait_until(lambda: service.get_session(sid).tasks[0].bytes_read > read, timeout=2.0)
    assert time.monotonic() - t0 < 2.0
    session = service.wait_session(sid, timeout=60)
    assert session.result is SessionResult.SUCCESS
    fig = session_figures(session)
    assert fig.stages[Stage.PRODUCTION] >= 1.0 and fig.bottleneck is Stage.PRODUCTION
    assert re.fullmatch(r"Production: held \d+\.\d s \(io pressure \d+ % > 20 %\)",
                        fig.bottleneck_text()), fig.bottleneck_text()
    (point,) = service.list_points("Busy")
    assert point.size == len(data)
