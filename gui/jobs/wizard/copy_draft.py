"""The backup copy wizard's logic without Qt: its steps' fields, the checks only
the console can make (the source job exists and is a backup job, the target is
another repository), the job model's own checks in plain words, and the words of
its Summary.

A copy job's draft is the dict a ``JobDefinition`` of kind ``backup_copy`` is
validated from; errors are keyed by field as in :mod:`gui.jobs.wizard.draft`.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.api import RepositoryInfo
from core.models import JobDefinition, JobInfo

from gui.jobs.wizard import draft as F

COPY_KIND = "backup_copy"
NEW_COPY_BASE = "Backup Copy Job"

# The steps of the wizard, and which step shows each field's problem.
NAME_STEP, SOURCE_STEP, TARGET_STEP, RETENTION_STEP, SCHEDULE_STEP, SUMMARY_STEP = (
    "Name", "Source Job", "Target", "Retention", "Schedule", "Summary")
PAGE_OF_FIELD: dict[str, str] = {
    F.NAME: NAME_STEP, F.DESCRIPTION: NAME_STEP, F.KIND: NAME_STEP,
    F.COPY_SOURCE: SOURCE_STEP, F.COMPUTERS: SOURCE_STEP, F.SCOPE: SOURCE_STEP,
    F.ACTIVE_FULL: SOURCE_STEP, F.SSH: SOURCE_STEP,
    F.REPOSITORY: TARGET_STEP,
    F.RETAIN: RETENTION_STEP, F.GFS: RETENTION_STEP, F.TASK_SLOTS: RETENTION_STEP,
    F.THROTTLE: RETENTION_STEP, F.HEALTH_CHECK: RETENTION_STEP,
    F.SCHEDULE: SCHEDULE_STEP, F.WINDOW: SCHEDULE_STEP,
}

NO_SOURCE = "Choose the backup job whose restore points this job copies."
NO_TARGET = "Choose the repository the restore points are copied to."


def is_copy(job: JobInfo) -> bool:
    return job.definition.kind == COPY_KIND


def source_jobs(jobs: Iterable[JobInfo]) -> list[JobInfo]:
    """The jobs a copy job can copy from: backup jobs, by name."""
    return sorted((job for job in jobs if not is_copy(job)), key=lambda j: j.name.casefold())


def source_error(name: str | None, jobs: Mapping[str, JobInfo]) -> str | None:
    """Why ``name`` cannot be the source job (``jobs``: every job by folded name)."""
    if not name:
        return NO_SOURCE
    job = jobs.get(name.casefold())
    if job is None:
        return (f"There is no job named '{name}' any more. Choose another backup job "
                "as the source.")
    if is_copy(job):
        return (f"'{job.name}' is a backup copy job. Choose a backup job: a copy job copies "
                "the restore points a backup job made.")
    return None


def target_error(repository: str | None, source: JobInfo | None,
                 repositories: Mapping[str, RepositoryInfo] | None) -> str | None:
    """Why ``repository`` cannot be the copy's target. ``repositories``: the server's,
    by name (None while the list has not arrived)."""
    if not repository:
        return NO_TARGET
    if repositories is not None and repository not in repositories:
        return (f"There is no repository named '{repository}'. Choose one from the list, "
                "or add it under Backup Infrastructure first.")
    if source is not None and source.definition.repository == repository:
        return (f"This is the repository of the source job '{source.name}'. Choose another "
                "one: a copy in the same repository is lost with it.")
    return None


def encryption_note(source: RepositoryInfo | None, target: RepositoryInfo | None) -> str:
    """What copying does to the points' encryption, for the Target step."""
    if source is None or target is None:
        return ""
    if source.encrypted and target.encrypted:
        return ("The two repositories have different keys: each block is decrypted with the "
                f"key of '{source.name}' and sealed again with the key of '{target.name}'. "
                "Restoring a copy needs only the target repository's password.")
    if source.encrypted:
        return (f"'{target.name}' is not encrypted: the copies are stored in clear, although "
                f"the source points in '{source.name}' are encrypted.")
    if target.encrypted:
        return (f"The copies are encrypted with the key of '{target.name}'; the source "
                f"points in '{source.name}' are not encrypted.")
    return "Neither repository is encrypted: blocks are copied as they are."


def check_copy_draft(draft: Mapping[str, Any], *, jobs: Iterable[JobInfo],
                     repositories: Mapping[str, RepositoryInfo] | None,
                     original: str | None = None, running: bool = False) -> F.DraftCheck:
    """The copy job's draft, checked as the server would and against the jobs and
    repositories the console lists."""
    every = list(jobs)
    by_name = {job.name.casefold(): job for job in every}
    taken = [job.name for job in every]
    source_name = draft.get(F.COPY_SOURCE) or None
    extra: dict[str, str] = {}
    problem = source_error(source_name, by_name)
    if problem:
        extra[F.COPY_SOURCE] = problem
    source = by_name.get(str(source_name).casefold()) if source_name and not problem else None
    problem = target_error(draft.get(F.REPOSITORY) or None, source, repositories)
    if problem:
        extra[F.REPOSITORY] = problem
    check = F.check_draft(draft, taken=taken, original=original, running=running,
                          extra=extra)
    if F.COPY_SOURCE in extra:   # the model's words on a missing source say less
        check.errors[F.COPY_SOURCE] = extra[F.COPY_SOURCE]
    return check


def new_copy_name(taken: Iterable[str]) -> str:
    """``"Backup Copy Job 1"``, or the next free number."""
    used = {n.casefold() for n in taken}
    number = 1
    while f"{NEW_COPY_BASE} {number}".casefold() in used:
        number += 1
    return f"{NEW_COPY_BASE} {number}"


def describe_copy(definition: JobDefinition,
                  source: JobInfo | None = None) -> list[tuple[str, str]]:
    """A copy job's settings in words, as the Summary step lists them."""
    d = definition
    points = "1 restore point" if d.retain_points == 1 else f"{d.retain_points} restore points"
    what = d.copy_source or ""
    if source is not None:
        count = len(source.definition.computers)
        what += (f" ({count} computer{'s' if count != 1 else ''}, "
                 f"in {source.definition.repository})")
    return [
        ("Name", d.name),
        ("Description", d.description or "(none)"),
        ("Source job", what),
        ("Copies", "Every restore point of the source job that this job does not hold yet; "
                   "only the data the target lacks is sent"),
        ("Target repository", d.repository),
        ("Retention", f"Keep {points} per computer" + (
            f", and {d.gfs.describe()} (GFS)" if d.gfs.enabled else "")),
        ("Task slots", str(d.task_slots)),
        ("Throttle", f"{d.throttle_mbps:g} MB/s" if d.throttle_mbps else "No limit"),
        ("Health check", d.health_check.describe() if d.health_check else "Off"),
        ("Schedule", d.schedule.describe() if d.schedule else "Not scheduled: run manually"),
        ("Enabled", "Yes" if d.enabled else "No"),
    ]
