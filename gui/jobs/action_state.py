"""Which job actions the current selection allows. Pure logic, no Qt."""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable, Sequence

from core.models import JobInfo, JobStatus, SessionResult

RETRYABLE_RESULTS = (SessionResult.FAILED, SessionResult.WARNING)


def is_running(job: JobInfo) -> bool:
    return job.status in (JobStatus.WORKING, JobStatus.PAUSED, JobStatus.STOPPING)


def can_pause(job: JobInfo) -> bool:
    return job.status is JobStatus.WORKING and not job.definition.is_copy


def can_resume(job: JobInfo) -> bool:
    return job.status is JobStatus.PAUSED


def can_start(job: JobInfo) -> bool:
    return job.status is JobStatus.IDLE


def may_retry(job: JobInfo) -> bool:
    """Whether asking the core for retry candidates is worth it."""
    return can_start(job) and job.last_result in RETRYABLE_RESULTS


@dataclass(frozen=True)
class ActionState:
    start: bool = False
    stop: bool = False
    pause: bool = False
    resume: bool = False
    retry: bool = False
    active_full: bool = False
    toggle_enabled: bool = False
    enable_label: bool = False   # True: the toggle reads "Enable", else "Disable"
    delete: bool = False
    statistics: bool = False
    edit: bool = False
    clone: bool = False


def action_state(selected: Sequence[JobInfo],
                 has_retry_candidates: Callable[[JobInfo], bool]) -> ActionState:
    """An action is enabled when it applies to every selected job."""
    if not selected:
        return ActionState()
    all_disabled = all(not job.definition.enabled for job in selected)
    startable = all(can_start(job) for job in selected)
    single = selected[0] if len(selected) == 1 else None
    return ActionState(
        start=startable,
        stop=all(is_running(job) for job in selected),
        pause=all(can_pause(job) for job in selected),
        resume=all(can_resume(job) for job in selected),
        retry=all(may_retry(job) and has_retry_candidates(job) for job in selected),
        active_full=startable and not any(job.definition.is_copy for job in selected),
        toggle_enabled=True,
        enable_label=all_disabled,
        delete=not any(is_running(job) for job in selected),
        statistics=single is not None and (single.last_run is not None
                                           or single.active_session_id is not None),
        edit=single is not None,    # a running job too: changes apply to its next session
        clone=single is not None,
    )
