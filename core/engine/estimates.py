"""How long computers in progress still need: from each one's measured rate
and the bytes it has left (known from its scan). No number until there is a
rate to trust, never a guess. And what each stop choice costs each computer:
how old its newest restore point will be, against the job's RPO."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from statistics import median

from core.api.reports import PointAge, StopCost
from core.models import RestorePointInfo, SessionInfo, TaskInfo, TaskStatus

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


def newest_points(points: Iterable[RestorePointInfo], session_id: str
                  ) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """Per computer (lower-case name): its newest point before the session ``session_id``,
    and the newest one that session made."""
    before: dict[str, datetime] = {}
    made: dict[str, datetime] = {}
    for p in points:
        into = made if p.session_id == session_id else before
        key = p.computer.lower()
        if key not in into or p.created > into[key]:
            into[key] = p.created
    return before, made


def finishes_past_rpo(task: TaskInfo, before: datetime | None, rpo_hours: int | None,
                      now: datetime, eta: float | None) -> bool:
    """A computer in progress that a graceful stop only past the RPO lets finish: it has
    no point yet, or its newest point is older than the RPO now, or will be before the
    computer could have finished (its estimate; none yet counts as now)."""
    if rpo_hours is None or task.status is not TaskStatus.IN_PROGRESS:
        return False
    if before is None:
        return True
    return (now - before).total_seconds() + (eta or 0.0) > rpo_hours * 3600


def stop_costs(tasks: Sequence[TaskInfo], points: Iterable[RestorePointInfo], session_id: str,
               rpo_hours: int | None, now: datetime, wall_now: datetime
               ) -> tuple[list[StopCost], list[str]]:
    """What each stop choice costs each computer: how old its newest restore point is
    once the job has stopped that way (immediately: now; gracefully: when the slowest
    computer in progress finishes, by the estimates, an unknown one counted as now), and
    whether that is past the RPO. Also the computers in progress a graceful stop only
    past the RPO lets finish. ``now`` is the server's clock (points' times), ``wall_now``
    the tasks' (their estimates)."""
    before, made = newest_points(points, session_id)
    etas = {t.computer: eta_seconds(t, wall_now) or 0.0 for t in tasks
            if t.status is TaskStatus.IN_PROGRESS}
    finishing = [t.computer for t in tasks
                 if finishes_past_rpo(t, before.get(t.computer.lower()), rpo_hours, now,
                                      etas.get(t.computer))]
    limit = None if rpo_hours is None else rpo_hours * 3600.0

    def age(gets: bool, end_s: float, task: TaskInfo) -> PointAge:
        key = task.computer.lower()
        if gets and key in made:            # completed: its new point is there
            seconds: float | None = end_s + (now - made[key]).total_seconds()
        elif gets:                          # finishes: a new point at its estimate
            seconds = max(0.0, end_s - etas.get(task.computer, 0.0))
        elif key in before:
            seconds = end_s + (now - before[key]).total_seconds()
        else:
            seconds = None
        late = limit is not None and (seconds is None or seconds > limit)
        return PointAge(gets_point=gets, age_seconds=seconds, past_rpo=late)

    graceful_end = max(etas.values(), default=0.0)
    past_end = max((etas[c] for c in finishing), default=0.0)
    costs = []
    for t in tasks:
        done = t.status.produced_point
        running = t.status is TaskStatus.IN_PROGRESS
        where = "completed" if done else "in_progress" if running else "not_started"
        costs.append(StopCost(
            computer=t.computer, where=where, newest_before=before.get(t.computer.lower()),
            immediately=age(done, 0.0, t),
            gracefully=age(done or running, graceful_end, t),
            gracefully_past_rpo=age(done or t.computer in finishing, past_end, t)))
    return costs, finishing


HISTORY_SESSIONS = 10   # the job's last sessions a computer's expected duration comes from
HISTORY_RUNS = 5        # of which its last runs that made a point (the median of them)


def expected_durations(sessions: Iterable[SessionInfo], full: bool) -> dict[str, float]:
    """Per computer (lower-case name), the seconds its task is expected to take: the
    median of its last HISTORY_RUNS runs that made a point (newest sessions first),
    those of the same kind (active full or not) when it has any. A computer with no
    such run is absent (its duration is unknown)."""
    same: dict[str, list[float]] = {}
    other: dict[str, list[float]] = {}
    for session in sessions:
        into = same if session.full == full else other
        for t in session.tasks:
            if t.status.produced_point and t.started is not None and t.ended is not None:
                runs = into.setdefault(t.computer.lower(), [])
                if len(runs) < HISTORY_RUNS:
                    runs.append(max(0.0, (t.ended - t.started).total_seconds()))
    return {c: median(same.get(c) or other[c]) for c in {*same, *other}}


def history_rates(sessions: Iterable[SessionInfo], full: bool) -> dict[str, float]:
    """Per computer (lower-case name), the bytes of its scan it processed per second in
    its last runs that made a point (the median; same kind first, as
    ``expected_durations``): its current scan's size over this rate is how long it
    needs now."""
    same: dict[str, list[float]] = {}
    other: dict[str, list[float]] = {}
    for session in sessions:
        into = same if session.full == full else other
        for t in session.tasks:
            if t.status.produced_point and t.started is not None and t.ended is not None \
                    and t.bytes_total > 0 and t.ended > t.started:
                runs = into.setdefault(t.computer.lower(), [])
                if len(runs) < HISTORY_RUNS:
                    runs.append(t.bytes_total / (t.ended - t.started).total_seconds())
    return {c: median(same.get(c) or other[c]) for c in {*same, *other}}


def fit_order(names: Sequence[str], expected: dict[str, float]) -> list[str]:
    """The order a window's session starts its computers in: those with no history
    first (they are started, whatever they take, and learn their duration), then the
    others shortest expected first, so that as many as possible finish in the window."""
    unknown = [n for n in names if n.lower() not in expected]
    known = sorted((n for n in names if n.lower() in expected),
                   key=lambda n: expected[n.lower()])
    return unknown + known


def about(seconds: float) -> str:
    """A duration in the log's words: "40 min", "about 2 h", "1.5 h"."""
    minutes = seconds / 60
    if minutes < 1:
        return f"{max(0, round(seconds))} s"
    if minutes < 90:
        return f"{round(minutes)} min"
    hours = minutes / 60
    return f"{hours:.1f} h".replace(".0 h", " h") if hours < 10 else f"{round(hours)} h"
