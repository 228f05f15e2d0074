"""Figures of a session for the statistics window. Pure logic, no Qt."""
from __future__ import annotations

from dataclasses import dataclass

from core.models import SessionInfo, TaskStatus, utcnow


@dataclass(frozen=True)
class SessionStats:
    duration_s: float
    processed: int
    read: int
    transferred: int
    success: int
    warnings: int
    errors: int

    @property
    def rate_bps(self) -> float:
        return self.processed / self.duration_s if self.duration_s > 0 else 0.0


def session_stats(session: SessionInfo) -> SessionStats:
    end = session.ended or utcnow()
    tasks = session.tasks
    return SessionStats(
        duration_s=max(0.0, (end - session.created).total_seconds()),
        processed=sum(t.bytes_processed for t in tasks),
        read=sum(t.bytes_read for t in tasks),
        transferred=sum(t.bytes_transferred for t in tasks),
        success=sum(1 for t in tasks if t.status is TaskStatus.SUCCESS),
        warnings=sum(1 for t in tasks if t.status is TaskStatus.WARNING),
        errors=sum(1 for t in tasks if t.status in (TaskStatus.FAILED, TaskStatus.CANCELLED)),
    )


def session_status_text(session: SessionInfo) -> str:
    if session.result is not None:
        return session.result.value
    return f"{session.state.value} {session.progress}%"
