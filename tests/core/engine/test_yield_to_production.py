"""Yield to production in the engine, with a fake PSI folder (AGENT_BACKUP_PSI_DIR): high
pressure holds the reading at a chunk boundary, an immediate stop while held ends within a
second, falling pressure resumes it within 2 s, and the Statistics figures say Production."""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.agents.ssh.agent_src.backup_agent.governor import PSI_ENV
from core.api.text import session_figures
from core.models import Computer, JobDefinition, SessionResult, Stage, StopMode, TaskStatus
from tests.conftest import wait_until
from tests.support.psi import FakePsi

HELD = "Yielding to production"


@pytest.fixture
def psi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePsi]:
    fake = FakePsi(tmp_path / "psi")
    monkeypatch.setenv(PSI_ENV, str(fake.folder))
    yield fake
    fake.close()


def big_job(service, tmp_path: Path, mb: int, **options) -> None:
    src = tmp_path / "big"
    src.mkdir()
    (src / "large.bin").write_bytes(bytes(range(256)) * (mb << 12))
    service.create_job(JobDefinition(name="Big", computers=(Computer(name="pc1", path=str(src)),),
                                     **options))


def held(service, sid: str) -> bool:
    return any(HELD in item.text for item in service.get_session(sid).tasks[0].log)


def test_high_pressure_holds_and_an_immediate_stop_ends_at_once(service, tmp_path, psi):
    psi.set(io=90)
    big_job(service, tmp_path, 24, throttle_mbps=8, yield_to_production=True)
    sid = service.start_job("Big")
    wait_until(lambda: held(service, sid), timeout=10)
    read = service.get_session(sid).tasks[0].bytes_read
    wait_until(lambda: service.get_session(sid).tasks[0].production_s >= 1.0, timeout=10)
    task = service.get_session(sid).tasks[0]
    assert task.bytes_read == read and read < 24 << 20   # held: nothing more read
    assert re.fullmatch(r"io pressure \d+ % > 20 %", task.production_why)
    t0 = time.monotonic()
    service.stop_job("Big", StopMode.IMMEDIATELY)
    session = service.wait_session(sid, timeout=1.0)
    assert time.monotonic() - t0 < 1.0
    assert session.tasks[0].status is TaskStatus.CANCELLED and service.list_points("Big") == []


def test_falling_pressure_resumes_within_two_seconds(service, tmp_path, psi):
    psi.set(io=90)
    big_job(service, tmp_path, 12, throttle_mbps=8, yield_to_production=True)
    sid = service.start_job("Big")
    wait_until(lambda: held(service, sid), timeout=10)
    wait_until(lambda: service.get_session(sid).tasks[0].production_s >= 1.0, timeout=10)
    read = service.get_session(sid).tasks[0].bytes_read
    psi.set(io=0)
    t0 = time.monotonic()
    wait_until(lambda: service.get_session(sid).tasks[0].bytes_read > read, timeout=2.0)
    assert time.monotonic() - t0 < 2.0
    session = service.wait_session(sid, timeout=60)
    assert session.result is SessionResult.SUCCESS
    fig = session_figures(session)
    assert fig.bottleneck is Stage.PRODUCTION and fig.stages[Stage.PRODUCTION] >= 1.0
    assert re.fullmatch(r"Production: held \d+\.\d s \(io pressure \d+ % > 20 %\)",
                        fig.bottleneck_text()), fig.bottleneck_text()


def test_without_the_setting_pressure_is_ignored(service, tmp_path, psi):
    psi.set(io=90)
    big_job(service, tmp_path, 4)
    session = service.wait_session(service.start_job("Big"), timeout=30)
    assert session.result is SessionResult.SUCCESS and session.tasks[0].production_s == 0
    assert not any(HELD in item.text for item in session.tasks[0].log)


def test_no_psi_reads_at_full_speed_with_one_note(service, tmp_path, monkeypatch):
    monkeypatch.setenv(PSI_ENV, str(tmp_path / "no-psi-here"))
    big_job(service, tmp_path, 4, yield_to_production=True)
    session = service.wait_session(service.start_job("Big"), timeout=30)
    assert session.result is SessionResult.SUCCESS
    notes = [i.text for i in session.tasks[0].log if "no pressure figures" in i.text]
    assert len(notes) == 1 and "full speed" in notes[0]
