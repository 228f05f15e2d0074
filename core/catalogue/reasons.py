"""Why a session did not succeed, in one line: the Reason column of History and
Last 24 Hours. Recorded in ``sessions.reason`` when the session ends, from its
tasks' and its own log (the same words the Statistics window shows)."""
from __future__ import annotations

from collections.abc import Sequence

from core.models import LogItem, SessionResult, SessionState, StopMode, TaskInfo, TaskStatus

MAX_REASON = 500
# Lines that say what happened to the whole session, not why: never a reason.
_CLOSING = ("computer(s) got a new restore point",)
_TASK_PROBLEMS = {TaskStatus.FAILED: "error", TaskStatus.CANCELLED: "error",
                  TaskStatus.WARNING: "warning", TaskStatus.SKIPPED: "warning"}


def _last(log: Sequence[LogItem], levels: tuple[str, ...]) -> str | None:
    for item in reversed(log):
        if item.level in levels and not any(c in item.text for c in _CLOSING):
            return item.text
    return None


def _strip(text: str) -> str:
    return text.removeprefix("Failed: ").strip()


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON else text[:MAX_REASON - 1].rstrip() + "…"


def session_reason(state: SessionState, result: SessionResult | None, log: Sequence[LogItem],
                   tasks: Sequence[TaskInfo], stop_mode: StopMode | None = None,
                   stopped_by: str | None = None) -> str | None:
    """One line saying why the ended session failed or warned (None while it runs,
    and for a success): the first computer's problem ("pc2: The disk is full ...
    (and 2 more computers)"), else the session's own last error or warning, else
    who stopped it."""
    if state is not SessionState.STOPPED or result in (None, SessionResult.SUCCESS):
        return None
    stopped = stop_mode is not None
    problems: list[str] = []
    for task in tasks:
        level = _TASK_PROBLEMS.get(task.status)
        if level is None:
            continue
        if stopped and task.status in (TaskStatus.CANCELLED, TaskStatus.SKIPPED):
            continue   # the stop is the reason, said once below
        levels = ("error",) if level == "error" else ("warning", "error")
        text = _last(task.log, levels) or _last(task.log, ("warning", "error"))
        if text:
            problems.append(f"{task.computer}: {_strip(text)}")
    if problems:
        more = len(problems) - 1
        return _clip(problems[0] + (f" (and {more} more computer{'s' if more > 1 else ''})"
                                    if more else ""))
    if stopped:
        assert stop_mode is not None
        return f"Stopped {stopped_by or 'by user'} ({stop_mode.text})"
    text = _last(log, ("error",)) if result is SessionResult.FAILED else None
    text = text or _last(log, ("warning", "error"))
    return _clip(_strip(text)) if text else None
