"""The words of every notification: a job's session, the daily summary, an
RPO alert, a test. Plain text; each names what it is about and links to
nothing (the commands it quotes are real ones)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from core.api import RepositoryInfo, session_figures, size_text, stopped_text
from core.models import JobInfo, RunKind, SessionInfo, SessionResult, TaskInfo, TaskStatus
from core.scheduling import format_local

PREFIX = "[Agent Backup]"


@dataclass(frozen=True)
class Message:
    subject: str
    body: str
    kind: str = "session"            # session | summary | rpo | test
    extra_to: tuple[str, ...] = field(default=())   # recipients besides the server's


def duration_text(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def task_reason(task: TaskInfo) -> str:
    """Why a computer did not get its restore point, in the log's words."""
    errors = [item.text for item in task.log if item.level == "error"]
    if errors:
        return errors[-1]
    warnings = [item.text for item in task.log if item.level == "warning"]
    if task.status is TaskStatus.SKIPPED:
        return warnings[-1] if warnings else "not started: the job was stopped"
    if task.status is TaskStatus.CANCELLED:
        return "cancelled while in progress: the job was stopped immediately"
    return warnings[-1] if warnings else task.status.value


def result_words(session: SessionInfo) -> str:
    """ "Failed", "Warning", "Success", or "Stopped by user (immediately)"."""
    stopped = stopped_text(session)
    if stopped:
        return stopped
    return session.result.value if session.result is not None else session.state.value


def _run_words(session: SessionInfo, retry_pending: bool) -> str:
    kind = {RunKind.MANUAL: "started by hand", RunKind.SCHEDULED: "scheduled run",
            RunKind.RETRY: "retry started by hand"}[session.run_kind]
    if session.full:
        kind += ", active full"
    if retry_pending:
        kind += "; the failed computers will be retried"
    return kind


def session_message(session: SessionInfo, *, tz: tzinfo | None, retry_pending: bool = False,
                    extra_to: Sequence[str] = ()) -> Message:
    figures = session_figures(session)
    total = len(session.tasks)
    bad = [t for t in session.tasks if t.status in (TaskStatus.FAILED, TaskStatus.CANCELLED)]
    skipped = [t for t in session.tasks if t.status is TaskStatus.SKIPPED]
    result = result_words(session)
    if stopped_text(session):
        detail = f"{sum(t.status.produced_point for t in session.tasks)} of {total} " \
                 "computer(s) got a new restore point"
    elif session.result is SessionResult.SUCCESS:
        detail = f"{total} computer(s) backed up"
    elif bad:
        detail = f"{len(bad)} of {total} computer(s) failed"
    else:
        detail = f"{figures.warning + figures.skipped} of {total} computer(s) with warnings"
    subject = f"{PREFIX} Job '{session.job}': {result} ({detail})"
    lines = [
        f"Job: {session.job}",
        f"Result: {result}" + (f" (session result: {session.result.value})"
                               if stopped_text(session) and session.result else ""),
        f"Session: {session.id} ({_run_words(session, retry_pending)})",
        f"Started: {format_local(session.created, tz)}",
        f"Ended: {format_local(session.ended, tz) if session.ended else '-'}"
        f" (duration {duration_text(figures.duration_s)})",
        f"Computers: {total}: {figures.success} success, {figures.warning} warning, "
        f"{figures.error} failed, {figures.skipped} skipped",
        f"Processed: {size_text(figures.processed)}; read: {size_text(figures.read)}; "
        f"transferred: {size_text(figures.transferred)}"
        + (f"; rate {size_text(figures.rate_bps)}/s" if figures.rate_bps else ""),
    ]
    if bad or skipped:
        lines += ["", "Computers without a new restore point:"]
        lines += [f"  {t.computer}: {t.status.value}: {task_reason(t)}" for t in bad + skipped]
    lines += ["", "Every computer:"]
    for t in session.tasks:
        made = f", {t.point_type.value}" if t.point_type is not None and \
            t.status.produced_point else ""
        lines.append(f"  {t.computer}: {t.status.value}, {size_text(t.bytes_processed)} "
                     f"processed{made}")
    notes = [item for item in session.log if item.level in ("warning", "error")]
    if notes:
        lines += ["", "Session log (warnings and errors):"]
        lines += [f"  {format_local(item.time, tz)} {item.text}" for item in notes[-20:]]
    lines += ["", f"Details: agent-jobs session show {session.id}"]
    return Message(subject, "\n".join(lines) + "\n", "session", tuple(extra_to))


@dataclass(frozen=True)
class JobState:
    """One job in the daily summary: its row and its last finished session."""

    job: JobInfo
    last: SessionInfo | None


def summary_message(jobs: Sequence[JobState], repositories: Sequence[RepositoryInfo], *,
                    now: datetime, tz: tzinfo | None) -> Message:
    counts = {r: 0 for r in SessionResult}
    never = 0
    for state in jobs:
        if state.job.last_result is None:
            never += 1
        else:
            counts[state.job.last_result] += 1
    parts = [f"{counts[SessionResult.FAILED]} failed", f"{counts[SessionResult.WARNING]} warning",
             f"{counts[SessionResult.SUCCESS]} success"] + ([f"{never} never run"] if never else [])
    subject = f"{PREFIX} Daily summary {format_local(now, tz, with_date=True)[:10]}: " \
              f"{len(jobs)} job(s): " + ", ".join(parts)
    lines = [f"Daily summary of the backup server at {format_local(now, tz)}", "", "Jobs:"]
    if not jobs:
        lines.append("  (no jobs)")
    for state in jobs:
        job = state.job
        result = result_words(state.last) if state.last is not None else (
            job.last_result.value if job.last_result else "never run")
        when = f", last run {format_local(job.last_run, tz)}" if job.last_run else ""
        off = "" if job.definition.enabled else " (disabled)"
        lines.append(f"  {job.name}{off}: {result}{when}")
    failures = [s for s in jobs if s.last is not None and s.last.result is not None
                and s.last.result is not SessionResult.SUCCESS]
    if failures:
        lines += ["", "Failures and warnings:"]
        for state in failures:
            assert state.last is not None
            lines.append(f"  {state.job.name} ({result_words(state.last)}, session "
                         f"{state.last.id}):")
            for t in state.last.tasks:
                if t.status not in (TaskStatus.SUCCESS,):
                    lines.append(f"    {t.computer}: {t.status.value}: {task_reason(t)}")
    lines += ["", "Repositories:"]
    if not repositories:
        lines.append("  (none)")
    for repo in repositories:
        if repo.problem:
            space = f"cannot be reached: {repo.problem}"
        else:
            free = size_text(repo.free_bytes) if repo.free_bytes is not None else "unknown"
            used = size_text(repo.used_bytes) if repo.used_bytes is not None else "unknown"
            space = f"{free} free, {used} used"
        lines.append(f"  {repo.name} ({repo.location}): {space}")
    return Message(subject, "\n".join(lines) + "\n", "summary")


def rpo_message(job: str, computer: str, hours: int, last: datetime | None, *,
                tz: tzinfo | None, extra_to: Sequence[str] = ()) -> Message:
    subject = (f"{PREFIX} No new restore point for computer {computer} in {hours} hours "
               f"(job '{job}')")
    since = (f"Its newest restore point was made {format_local(last, tz)}." if last
             else "It has no restore point yet.")
    body = (f"Job: {job}\nComputer: {computer}\n\nThe job's recovery point objective is "
            f"{hours} hours, and {computer} has had no new restore point for longer. {since}\n"
            f"This alert is sent once; it clears when {computer} gets a new restore point.\n\n"
            f"Details: agent-jobs points '{job}'\n")
    return Message(subject, body, "rpo", tuple(extra_to))


def test_message(now: datetime, tz: tzinfo | None) -> Message:
    return Message(f"{PREFIX} Test notification",
                   f"This is a test notification of the backup server, sent "
                   f"{format_local(now, tz)} by 'agent-jobs notifications test'.\n"
                   "If you read this, the server's notifications reach you.\n", "test")
