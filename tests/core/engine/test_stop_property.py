"""Property: whatever the moment of the stop, the computers with a new restore
point are exactly those completed (immediately), or completed or in progress
(gracefully), at the moment the stop took effect."""
from __future__ import annotations

import threading
from pathlib import Path
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import JobStateError
from core.engine.hooks import EngineHooks
from core.models import Computer, JobDefinition, StopMode
from core.service.facade import BackupService
from tests.conftest import make_tree


class StopAtCheckpoint(EngineHooks):
    """Parks the task that reaches checkpoint number ``k`` until the test has
    stopped the job; every other task runs freely."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.count = 0
        self.lock = threading.Lock()
        self.reached = threading.Event()
        self.resume = threading.Event()

    def checkpoint(self, job: str, computer: str, files_done: int,
                   cancelled: Callable[[], bool]) -> None:
        with self.lock:
            self.count += 1
            mine = self.count == self.k
        if mine:
            self.reached.set()
            self.resume.wait(10)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(slots=st.integers(1, 3), computers=st.integers(1, 4), files=st.integers(1, 3),
       k=st.integers(1, 18), mode=st.sampled_from(list(StopMode)))
def test_points_match_stop_moment(tmp_path_factory, slots, computers, files, k, mode):
    base: Path = tmp_path_factory.mktemp("prop")
    hooks = StopAtCheckpoint(k)
    svc = BackupService(base / "data", hooks=hooks)
    try:
        comps = tuple(Computer(name=f"pc{i}", path=str(make_tree(base / f"pc{i}", files, 512, i)))
                      for i in range(computers))
        svc.create_job(JobDefinition(name="P", computers=comps, task_slots=slots))
        sid = svc.start_job("P")
        finished = threading.Thread(target=svc.wait_session, args=(sid,))
        finished.start()
        outcome = None
        while not hooks.reached.wait(0.01):
            if not finished.is_alive():
                break
        if hooks.reached.is_set():
            try:
                outcome = svc.stop_job("P", mode)
            except JobStateError:
                outcome = None
        hooks.resume.set()
        finished.join(30)
        session = svc.get_session(sid)
        with_point = {p.computer for p in svc.list_points("P")}
        if outcome is None:  # the session ended before the k-th checkpoint
            assert with_point == {c.name for c in comps}
        elif mode is StopMode.IMMEDIATELY:
            assert with_point == set(outcome.completed)
        else:
            assert with_point == set(outcome.completed) | set(outcome.in_progress)
        assert {t.computer for t in session.tasks if t.point_id} == with_point
        assert svc.repository_point_ids() == {p.id for p in svc.list_points()}
    finally:
        hooks.resume.set()
        svc.close()
