"""How long computers in progress still need: from each one's measured rate
and the bytes it has left (known from its scan). No number until there is a
rate to trust, never a guess."""
from __future__ import annotations

from datetime import datetime

from core.models import TaskInfo, TaskStatus

MIN_ELAPSED_S = 1.0   # below this a rate is noise


def progress_percent(task: TaskInfo) -> int:
    if task.bytes_total:
        return min(100, int(100 * task.bytes_processed / task.bytes_total))
    if task.files_total:
        return min(100, int(100 * task.files_done / task.files_total))
    return 0


def eta_seconds(task: TaskInfo, now: datetime) -> float | None:
    """Seconds the task still needs, or None while there is no measured rate."""
    if task.status is not TaskStatus.IN_PROGRESS or task.started is None:
        return None
    if task.bytes_total == 0:
        return None if task.files_total == 0 else (
            0.0 if task.files_done >= task.files_total else None)
    left = max(0, task.bytes_total - task.bytes_processed)
    if left == 0:
        return 0.0
    # From the first block read: the scan before it says nothing of the rate.
    elapsed = (now - (task.reading_since or task.started)).total_seconds()
    if task.bytes_processed <= 0 or elapsed < MIN_ELAPSED_S:
        return None
    return left / (task.bytes_processed / elapsed)
