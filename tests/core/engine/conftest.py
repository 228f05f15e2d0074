"""An in-process backup server on an injected clock, in UTC, for the engine's
session tests: ``svc`` (a module may give its own ``clock``: the time it starts at)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from core.service.facade import BackupService
from tests.conftest import shutdown_service
from tests.support.clock import FakeClock
from tests.support.gate import TaskGate


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 26, 10, 30, tzinfo=timezone.utc))


@pytest.fixture
def svc(tmp_path: Path, gate: TaskGate, clock: FakeClock) -> Iterator[BackupService]:
    service = BackupService(tmp_path / "data", hooks=gate, clock=clock)
    service.scheduler._tz = timezone.utc
    yield service
    shutdown_service(service, gate)
