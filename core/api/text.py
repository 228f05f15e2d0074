"""The operator's words: how a job, a schedule, a session's figures and a size read, the
same in the console and in ``agent-jobs``."""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from core.models import (
    JobDefinition, JobInfo, SessionInfo, SessionState, Stage, TaskInfo, TaskStatus, VerifyProblem,
    utcnow,
)


def _iso(dt: Any) -> str | None:
    return dt.isoformat() if dt else None


def job_summary(job: JobInfo) -> dict[str, Any]:
    """A job as ``agent-jobs job list --json`` prints it (and the REST API returns it)."""
    d = job.definition
    return {
        "name": job.name, "type": job.type_label, "description": d.description,
        "computers": [c.name for c in d.computers],
        "status": job.status.value, "progress": job.progress, "enabled": d.enabled,
        "last_run": _iso(job.last_run),
        "last_result": job.last_result.value if job.last_result else None,
        "next_run": _iso(job.next_run), "target": d.repository,
        "task_slots": d.task_slots, "throttle_mbps": d.throttle_mbps,
        "retain_points": d.retain_points,
        "gfs": d.gfs.model_dump(),
        "schedule": describe_schedule(d),
        "kind": d.kind, "copy_source": d.copy_source,
    }


JOB_NAME_MAX = 64
CLONE_SUFFIX = " clone"


def clone_name(name: str, taken: Iterable[str]) -> str:
    """``"<name> clone"``, then ``"<name> clone 2"``, ... the first one free
    (names compare without case, as the catalogue does); at most 64 characters."""
    used = {n.casefold() for n in taken}
    number = 1
    while True:
        suffix = CLONE_SUFFIX if number == 1 else f"{CLONE_SUFFIX} {number}"
        candidate = name[:JOB_NAME_MAX - len(suffix)].rstrip() + suffix
        if candidate.casefold() not in used:
            return candidate
        number += 1


def clone_note(source: str, clone: str) -> str:
    """What the console and the CLI say once a job is cloned (a clone is created
    disabled: it would back up the same computers at the same time)."""
    return (f"Clone '{clone}' created disabled so that it does not run beside "
            f"'{source}'; enable it when ready.")


def describe_schedule(definition: JobDefinition) -> str | None:
    schedule = getattr(definition, "schedule", None)
    return schedule.describe() if schedule is not None else None


def describe_settings(definition: JobDefinition) -> list[tuple[str, str]]:
    """A job's settings in words, as (label, text) lines: the console's
    wizard summary and ``agent-jobs job show`` print these."""
    d = definition
    points = "1 restore point" if d.retain_points == 1 else f"{d.retain_points} restore points"
    if d.is_copy:
        return [
            ("Name", d.name),
            ("Kind", "Backup copy job"),
            ("Description", d.description or "(none)"),
            ("Source job", f"{d.copy_source} (its computers' restore points are copied)"),
            ("Repository", d.repository),
            ("Retention", f"Keep {points} per computer" + (
                f", and {d.gfs.describe()} (GFS)" if d.gfs.enabled else "")),
            ("Task slots", str(d.task_slots)),
            ("Throttle", f"{d.throttle_mbps:g} MB/s" if d.throttle_mbps else "No limit"),
            ("Health check", d.health_check.describe() if d.health_check else "Off"),
            ("Schedule", d.schedule.describe() if d.schedule else "Not scheduled: run manually"),
            ("Enabled", "Yes" if d.enabled else "No"),
        ]
    return [
        ("Name", d.name),
        ("Description", d.description or "(none)"),
        ("Computers", ", ".join(f"{c.name} ({c.path})" for c in d.computers)),
        ("Backup mode", "Selected folders: " + ", ".join(d.scope.include) if d.scope.include
         else "Entire computer"),
        ("Exclude", ", ".join(d.scope.exclude) or "(nothing)"),
        ("Repository", d.repository),
        ("Retention", f"Keep {points} per computer" + (
            f", and {d.gfs.describe()} (GFS)" if d.gfs.enabled else "")),
        ("Task slots", str(d.task_slots)),
        ("Throttle", f"{d.throttle_mbps:g} MB/s" if d.throttle_mbps else "No limit"),
        ("Production", yield_text(d)),
        ("Active full", d.active_full.describe() if d.active_full else "Off"),
        ("Health check", d.health_check.describe() if d.health_check else "Off"),
        ("Schedule", d.schedule.describe() if d.schedule else "Not scheduled: run manually"),
        ("Notify", d.notify.describe()),
        ("Enabled", "Yes" if d.enabled else "No"),
    ]


def yield_text(d: JobDefinition) -> str:
    if not d.yield_to_production:
        return "Do not yield: read at full speed"
    return (f"Yield to production: each computer slows and holds its reads while its own io "
            f"or cpu pressure is above {d.pressure_threshold} %")


# -- session figures (the console's Statistics window, ``agent-jobs session show``) ----
class SessionFigures(BaseModel):
    """A session's figures, from its tasks: what the Statistics window shows."""

    duration_s: float
    processed: int
    read: int
    transferred: int
    stored_raw: int
    rate_bps: float | None            # None when nothing was read: no rate to speak of
    dedup: float | None               # read / new data before compression
    compression: float | None         # new data before / after compression
    saving: float | None              # read / transferred (dedup x compression)
    stages: dict[Stage, float]        # seconds per stage, all computers
    bottleneck: Stage | None          # the stage that took the most time; None: unmeasured
    production_why: str = ""          # why the computers yielded to production, if they did
    success: int
    warning: int
    error: int
    skipped: int
    running: int                      # in progress
    pending: int                      # not started yet
    percent: int                      # the session's progress, as the computers' rows add up

    def stage_percent(self, stage: Stage) -> int:
        total = sum(self.stages.values())
        return round(100 * self.stages[stage] / total) if total > 0 else 0

    def bottleneck_text(self) -> str:
        if self.bottleneck is None:
            return "—"
        if self.bottleneck is Stage.PRODUCTION:
            held = self.stages[Stage.PRODUCTION]
            return f"Production: held {held:.1f} s" + (
                f" ({self.production_why})" if self.production_why else "")
        return str(self.bottleneck.value)


def session_figures(session: SessionInfo) -> SessionFigures:
    tasks = session.tasks
    end = session.ended or (utcnow() if session.state is not SessionState.STOPPED
                            else session.created)
    duration = max(0.0, (end - session.created).total_seconds())
    processed = sum(t.bytes_processed for t in tasks)
    read = sum(t.bytes_read for t in tasks)
    transferred = sum(t.bytes_transferred for t in tasks)
    raw = sum(t.bytes_stored_raw for t in tasks)
    stages = {stage: 0.0 for stage in Stage}
    for t in tasks:
        for stage, seconds in t.stage_seconds().items():
            stages[stage] += seconds
    measured = sum(stages.values()) > 0
    statuses = [t.status for t in tasks]
    return SessionFigures(
        duration_s=duration, processed=processed, read=read, transferred=transferred,
        stored_raw=raw,
        rate_bps=processed / duration if read > 0 and duration > 0 else None,
        dedup=read / raw if read > 0 and raw > 0 else None,
        compression=raw / transferred if raw > 0 and transferred > 0 else None,
        saving=read / transferred if read > 0 and transferred > 0 else None,
        stages=stages, bottleneck=max(stages, key=lambda s: stages[s]) if measured else None,
        production_why=next((t.production_why for t in sorted(
            tasks, key=lambda t: -t.production_s) if t.production_why), ""),
        success=statuses.count(TaskStatus.SUCCESS), warning=statuses.count(TaskStatus.WARNING),
        error=statuses.count(TaskStatus.FAILED) + statuses.count(TaskStatus.CANCELLED),
        skipped=statuses.count(TaskStatus.SKIPPED),
        running=statuses.count(TaskStatus.IN_PROGRESS), pending=statuses.count(TaskStatus.PENDING),
        percent=session_percent(session))


def task_done_share(task: TaskInfo) -> float:
    """How much of a computer's part is behind it (0..1): all of it once it ended,
    whatever the outcome (the engine's own measure of a session's progress)."""
    if task.status.is_final:
        return 1.0
    if task.status is TaskStatus.PENDING:
        return 0.0
    if task.bytes_total:
        return min(1.0, task.bytes_processed / task.bytes_total)
    return min(1.0, task.files_done / task.files_total) if task.files_total else 0.0


def task_percent(task: TaskInfo) -> int | None:
    """A computer's progress bar: 100 once it made its restore point; what it read of
    its data while it runs, and where a failed or cancelled one got to; None (no bar) for
    one skipped, or one that failed before it started reading."""
    if task.status.produced_point:
        return 100
    if task.status is TaskStatus.SKIPPED:
        return None
    if task.status is TaskStatus.PENDING:
        return 0
    if task.bytes_total:
        value = min(100, int(100 * task.bytes_processed / task.bytes_total))
    elif task.files_total:
        value = min(100, int(100 * task.files_done / task.files_total))
    else:
        value = 0
    if task.status.is_final and value == 0:
        return None
    return value


def session_percent(session: SessionInfo) -> int:
    """A session's progress from its computers: the mean of their shares done (an
    ended computer counts whole), the same measure the jobs list's "Working N%" uses."""
    tasks = session.tasks
    if not tasks:
        return 100 if session.state is SessionState.STOPPED else session.progress
    if session.state is SessionState.STOPPED:
        return 100
    return int(100 * sum(task_done_share(t) for t in tasks) / len(tasks))


def made_text(session: SessionInfo) -> str:
    """What a backup session really made: "Full", "Increment", or per computer
    where they differ ("Full: pc1; Increment: pc2, pc3")."""
    kinds: dict[str, list[str]] = {}
    for t in session.tasks:
        if t.point_type is not None:
            kinds.setdefault(t.point_type.value, []).append(t.computer)
    if not kinds:
        return "Active full" if session.full else "Backup"
    if len(kinds) == 1:
        return next(iter(kinds))
    return "; ".join(f"{kind}: {', '.join(names)}" for kind, names in kinds.items())


REPOSITORY_KIND_TEXT = {"local": "Local folder", "s3": "S3 compatible"}


def repository_kind_text(kind: str) -> str:
    """A repository's type as Backup Infrastructure shows it: "Local folder", "S3 compatible"."""
    return REPOSITORY_KIND_TEXT.get(kind, kind)


def size_text(size: float) -> str:
    """Bytes for people: 512 B, 1.5 KB, 2.0 GB."""
    units = ("B", "KB", "MB", "GB", "TB", "PB")
    value = float(size)
    for unit in units:
        if abs(value) < 1024 or unit == units[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def stopped_text(session: SessionInfo | Any) -> str:
    """ "Stopped by user (immediately)", or "" when the session was not stopped."""
    if session.stop_mode is None:
        return ""
    by = session.stopped_by or "by user"
    return f"Stopped {by} ({session.stop_mode.text})"




def verify_problem_text(p: VerifyProblem) -> str:
    """One problem as ``agent-jobs verify`` and the Verify session's log say it."""
    paths = ", ".join(p.paths[:5]) + (" ..." if len(p.paths) > 5 else "")
    if not p.point_id:   # damage no checked point depends on
        return f"repository: {p.problem}"
    if not p.blob:
        return (f"point {p.point_id}: its {p.problem.replace('manifest ', 'manifest is ')}"
                " (the point stays listed as damaged)")
    return (f"point {p.point_id}: block {p.blob} is {p.problem}"
            + (f" (pack {p.pack})" if p.pack else "")
            + (f"; damaged file(s): {paths}" if paths else ""))


def audit_details_text(details: dict[str, Any]) -> str:
    """An audit entry's details in a line: its parameters, and for a change the
    settings it changed ("changed: retain_points, schedule")."""
    shown = {k: v for k, v in details.items() if k not in ("before", "after")}
    text = ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
                     for k, v in shown.items())
    before, after = details.get("before"), details.get("after")
    changed = ""
    if isinstance(before, dict) and isinstance(after, dict):
        keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        changed = "changed: " + ", ".join(keys) if keys else "no change"
    return "; ".join(t for t in (text, changed) if t)
