"""The demo: every run of its jobs, not only the first, reads long enough to be stopped."""
from __future__ import annotations

from core.models import SessionResult
from core.service.demo import DEMO_COMPUTERS
from core.service.facade import BackupService

MIB = 1 << 20


def test_every_demo_run_reads_long_enough_to_press_stop(service: BackupService) -> None:
    service.setup_demo()
    jobs = [j.definition for j in service.list_jobs()]
    assert {c.name for d in jobs for c in d.computers} == set(DEMO_COMPUTERS)
    for definition in jobs:
        rate = definition.throttle_mbps
        assert rate is not None   # the demo's jobs read at a throttled rate
        # The test reads at full speed: the seconds follow from the bytes read.
        service.update_job(definition.name, definition.model_copy(update={"throttle_mbps": None}))
        runs = []
        for _ in range(3):
            session = service.wait_session(service.start_job(definition.name), timeout=60)
            assert session.result is SessionResult.SUCCESS, session.log
            runs.append(session)
        for later in runs[1:]:   # increments: the computers worked since the last run
            read = sum(t.bytes_read for t in later.tasks)
            seconds = read / (rate * MIB) / min(definition.task_slots, len(later.tasks))
            assert seconds >= 10, (definition.name, read, seconds)
            for task in later.tasks:
                assert task.bytes_read / (rate * MIB) >= 4, (task.computer, task.bytes_read)
            # ...while the restore points stay small: only the changed blocks are new.
            assert sum(t.bytes_transferred for t in later.tasks) < read / 2
            assert any(line.text.startswith("Demo: before this run") for line in later.log)


def test_the_demo_never_changes_other_computers(service: BackupService, make_job) -> None:
    job = make_job("Mine", computers=1, files=3)
    folder = job.computers[0].path
    before = {p: open(p, "rb").read() for p in sorted(__import__("glob").glob(f"{folder}/*"))}
    service.setup_demo()
    service.wait_session(service.start_job("Mine"), timeout=30)
    after = {p: open(p, "rb").read() for p in sorted(__import__("glob").glob(f"{folder}/*"))}
    assert after == before
