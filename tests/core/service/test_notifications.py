"""Issue 22 §1: notifications from the backup server, on an injected clock,
to a real SMTP server (aiosmtpd) and a real HTTP receiver (apprise's
json://) on loopback."""
from __future__ import annotations

import os
import subprocess
import sys
import shutil
import stat
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import SecretStr

from core.errors import InvalidInput, NotFound
from core.models import (
    Computer, JobDefinition, JobNotify, NotificationSettings, NotifyOn, SessionResult,
    SmtpSettings, StopMode,
)
from core.scheduling import Schedule, ScheduleKind
from core.service.facade import BackupService
from tests.conftest import make_tree, shutdown_service
from tests.support.clock import FakeClock
from tests.support.gate import TaskGate
from tests.support.receivers import SmtpSink, dead_smtp, hook_sink, smtp_sink

UTC = timezone.utc
START = datetime(2026, 11, 26, 9, 58, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def svc(tmp_path: Path, gate: TaskGate, clock: FakeClock) -> Iterator[BackupService]:
    service = BackupService(tmp_path / "data", hooks=gate, clock=clock)
    service.scheduler._tz = UTC   # pin the zone: the machine's may be anything
    yield service
    shutdown_service(service, gate)


@pytest.fixture
def mail() -> Iterator[SmtpSink]:
    with smtp_sink() as sink:
        yield sink


def use_mail(svc: BackupService, sink: SmtpSink, **more: object) -> None:
    svc.set_notifications(NotificationSettings(smtp=SmtpSettings(
        host=sink.host, port=sink.port, sender="backup@example.test",
        to=("ops@example.test",)), **more))  # type: ignore[arg-type]


def idle(svc: BackupService) -> None:
    assert svc._notifications.outbox.wait_idle(20)


def job(svc: BackupService, tmp_path: Path, *, retries: int | None = None,
        notify: JobNotify = JobNotify(), name: str = "Nightly") -> JobDefinition:
    """A job of two computers; scheduled hourly with ``retries``, else run by hand."""
    computers = tuple(Computer(name=c, path=str(make_tree(tmp_path / name / c)))
                      for c in ("pc1", "pc2"))
    schedule = None if retries is None else Schedule(
        kind=ScheduleKind.PERIODICALLY, every_minutes=60, retries=retries, retry_wait_minutes=10)
    definition = JobDefinition(name=name, computers=computers, task_slots=1, notify=notify,
                               schedule=schedule)
    svc.create_job(definition)
    return definition


def run_scheduled(svc: BackupService, clock: FakeClock, minutes: float) -> None:
    clock.advance(minutes=minutes)
    assert svc.scheduler.tick() == ["Nightly"]
    session = svc.list_sessions("Nightly")[0]
    svc.wait_session(session.id, timeout=20)


def test_a_failed_job_with_two_retries_sends_one_mail_after_the_last_retry(
        svc: BackupService, tmp_path: Path, clock: FakeClock, mail: SmtpSink) -> None:
    use_mail(svc, mail)
    job(svc, tmp_path, retries=2, notify=JobNotify(last_retry_only=True,
                                                     to=("boss@example.test",)))
    shutil.rmtree(tmp_path / "Nightly" / "pc2")        # pc2's folder went away
    svc.scheduler.tick()                                # 09:58: the first tick
    run_scheduled(svc, clock, 3)                        # 10:01: the scheduled run fails
    idle(svc)
    assert svc.scheduler.pending_retry("Nightly") is not None
    run_scheduled(svc, clock, 10)                       # retry 1 fails
    idle(svc)
    assert mail.mails == []                             # a retry is still to come
    run_scheduled(svc, clock, 10)                       # retry 2, the last, fails
    assert svc.scheduler.pending_retry("Nightly") is None
    idle(svc)
    assert len(mail.mails) == 1
    (sent,) = mail.mails
    assert sent.subject.startswith("[Agent Backup] Job 'Nightly': Failed")
    assert sorted(sent.rcpt_tos) == ["boss@example.test", "ops@example.test"]
    body = sent.body
    assert "Job: Nightly" in body and "Result: Failed" in body
    assert "pc2: Failed: " in body and "pc2" in body.split("without a new restore point")[1]
    assert "Processed: " in body and f"agent-jobs session show {svc.list_sessions('Nightly')[0].id}" in body
    assert "http" not in body                            # it links to nothing
    assert svc.notification_status()["sent"] == 1


def test_a_success_sends_nothing_by_default_and_one_when_asked(
        svc: BackupService, tmp_path: Path, mail: SmtpSink) -> None:
    use_mail(svc, mail)
    job(svc, tmp_path)
    first = svc.wait_session(svc.start_job("Nightly"), timeout=20)
    assert first.result is SessionResult.SUCCESS
    idle(svc)
    assert mail.mails == []
    definition = svc.get_job("Nightly").definition
    svc.update_job("Nightly", definition.model_copy(update={"notify": JobNotify(
        on=(NotifyOn.SUCCESS,))}))
    svc.wait_session(svc.start_job("Nightly"), timeout=20)
    idle(svc)
    assert [m.subject for m in mail.mails] == [
        "[Agent Backup] Job 'Nightly': Success (2 computer(s) backed up)"]


def test_a_stopped_session_says_who_stopped_it(
        svc: BackupService, tmp_path: Path, gate: TaskGate, mail: SmtpSink) -> None:
    use_mail(svc, mail)
    job(svc, tmp_path)
    gate.hold("pc1")
    sid = svc.start_job("Nightly")
    assert gate.wait_held("pc1")
    svc.stop_job("Nightly", StopMode.IMMEDIATELY)
    gate.release_all()
    svc.wait_session(sid, timeout=20)
    idle(svc)
    (sent,) = mail.mails
    assert sent.subject.startswith("[Agent Backup] Job 'Nightly': Stopped by user (immediately)")
    assert "Failed" not in sent.subject


def test_the_daily_summary_arrives_at_its_time_by_mail_and_url(
        svc: BackupService, tmp_path: Path, clock: FakeClock, mail: SmtpSink) -> None:
    with hook_sink() as hook:
        use_mail(svc, mail, urls=(hook.url,), summary_at="10:30")
        job(svc, tmp_path)
        shutil.rmtree(tmp_path / "Nightly" / "pc2")
        svc.wait_session(svc.start_job("Nightly"), timeout=20)   # Failed: one mail, one post
        idle(svc)
        assert len(mail.mails) == 1 and len(hook.posts) == 1
        svc.keep_time()                                   # 09:58
        clock.advance(minutes=31)                         # 10:29
        svc.keep_time()
        idle(svc)
        assert len(mail.mails) == 1                       # not yet
        clock.advance(minutes=2)                          # 10:31
        svc.keep_time()
        idle(svc)
        svc.keep_time()                                   # once a day, not once a tick
        idle(svc)
        assert len(mail.mails) == 2 and len(hook.posts) == 2
        summary = mail.mails[1]
        assert summary.subject.startswith("[Agent Backup] Daily summary 2026-11-26: 1 job(s): "
                                          "1 failed")
        assert "Nightly: Failed" in summary.body
        assert "pc2: Failed: " in summary.body            # the failure with its reason
        assert "Default Backup Repository" in summary.body and " free, " in summary.body
        assert hook.posts[1]["title"] == summary.subject
        assert hook.posts[1]["path"] == "/hook"
        clock.advance(days=1)                             # the next day's, once
        svc.keep_time()
        idle(svc)
        assert len(mail.mails) == 3


def test_a_dead_mail_server_neither_delays_nor_fails_a_session(
        svc: BackupService, tmp_path: Path) -> None:
    with dead_smtp() as (host, port, sock):
        svc.set_notifications(NotificationSettings(smtp=SmtpSettings(
            host=host, port=port, sender="backup@example.test", to=("ops@example.test",))))
        job(svc, tmp_path)
        shutil.rmtree(tmp_path / "Nightly" / "pc2")
        session = svc.wait_session(svc.start_job("Nightly"), timeout=20)
        assert not session.state.is_active and session.result is SessionResult.FAILED
        assert svc.notification_status()["queued"] == 1  # still waiting on the mail server
        session = svc.wait_session(svc.start_job("Nightly"), timeout=20)   # and again
        assert not session.state.is_active
        sock.close()                                      # the server dies for good
        idle(svc)
    status = svc.notification_status()
    assert status["failed"] == 2 and status["sent"] == 0
    assert f"mail server {host}:{port}" in str(status["last_error"])


def test_rpo_alert_once_until_it_clears(
        svc: BackupService, tmp_path: Path, clock: FakeClock, mail: SmtpSink) -> None:
    use_mail(svc, mail)
    job(svc, tmp_path, notify=JobNotify(on=(), rpo_hours=24))
    svc.wait_session(svc.start_job("Nightly"), timeout=20)
    shutil.rmtree(tmp_path / "Nightly" / "pc2")
    svc.keep_time()
    idle(svc)
    assert [m.subject for m in mail.mails] == []
    clock.advance(hours=25)
    svc.wait_session(svc.start_job("Nightly"), timeout=20)   # pc1 gets a point, pc2 fails
    svc.keep_time()
    idle(svc)
    assert [m.subject for m in mail.mails] == [
        "[Agent Backup] No new restore point for computer pc2 in 24 hours (job 'Nightly')"]
    clock.advance(minutes=5)
    svc.keep_time()                                       # sent once
    idle(svc)
    assert len(mail.mails) == 1
    make_tree(tmp_path / "Nightly" / "pc2")
    svc.wait_session(svc.start_job("Nightly"), timeout=20)
    clock.advance(minutes=5)
    svc.keep_time()                                       # cleared
    clock.advance(hours=25)
    svc.keep_time()                                       # late again: a new alert
    idle(svc)
    assert len(mail.mails) == 3   # pc1 and pc2 both late now
    assert {m.subject.split("computer ")[1].split(" ")[0] for m in mail.mails[1:]} == \
        {"pc1", "pc2"}


def test_settings_keep_the_password_in_secrets_only(svc: BackupService, tmp_path: Path) -> None:
    smtp = SmtpSettings(host="127.0.0.1", port=2525, user="robot", sender="b@example.test",
                        to=("ops@example.test",))
    saved = svc.set_notifications(NotificationSettings(smtp=smtp), SecretStr("s3cret!"))
    assert saved.smtp is not None and saved.smtp.password_set
    secret = tmp_path / "data" / "secrets" / "notifications-smtp.password"
    assert secret.read_text() == "s3cret!"
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    assert "s3cret" not in (svc.catalogue.get_state("notifications.settings") or "")
    again = svc.set_notifications(NotificationSettings(smtp=smtp))   # None keeps it
    assert again.smtp is not None and again.smtp.password_set
    svc.set_notifications(NotificationSettings())                    # no SMTP: forgotten
    assert not secret.exists()
    with pytest.raises(InvalidInput, match="apprise does not understand"):
        svc.add_notification_url("nosuchservice://x")
    with pytest.raises(NotFound, match="No notification URL"):
        svc.remove_notification_url("json://127.0.0.1:1/x")
    with pytest.raises(InvalidInput, match="No notifications are set"):
        svc.test_notifications()


def test_apprise_loads_without_its_deprecation_warnings_reaching_anyone() -> None:
    """apprise's plugins import deprecated modules (imghdr): the server loads
    them with those warnings silenced, even where warnings are errors."""
    code = ("from core.service.notifications.delivery import url_problem\n"
            "assert url_problem('json://127.0.0.1:1/x') is None\n"
            "assert url_problem('mailto://u:p@localhost?smtp=127.0.0.1&to=a@b.test') is None\n")
    done = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", code],
                          capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[3])
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
