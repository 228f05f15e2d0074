"""The stop preview's cost of each choice, computed from the tasks, the job's points
and the estimates (``core.engine.estimates.stop_costs``): who the graceful stop only
past the RPO lets finish (past it, or passing it before it could finish), and how
old each computer's newest point is once the job has stopped each way."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from core.engine.estimates import stop_costs
from core.models import RestorePointInfo, TaskInfo, TaskStatus

UTC = timezone.utc
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
H = 3600.0


def point(computer: str, hours_ago: float, session: str = "old") -> RestorePointInfo:
    return RestorePointInfo(id=f"{computer}-{hours_ago}", job="J", computer=computer,
                            session_id=session, type="Increment",
                            created=NOW - timedelta(hours=hours_ago), files=1, size=1,
                            repository="R")


def running(computer: str, left_s: float | None) -> TaskInfo:
    """In progress for 100 s at 1 MB/s, with ``left_s`` seconds of bytes left
    (None: no rate yet)."""
    if left_s is None:
        return TaskInfo(computer=computer, status=TaskStatus.IN_PROGRESS,
                        started=NOW, bytes_total=10)
    done = 100 * 10**6
    return TaskInfo(computer=computer, status=TaskStatus.IN_PROGRESS,
                    started=NOW - timedelta(seconds=100),
                    reading_since=NOW - timedelta(seconds=100), bytes_processed=done,
                    bytes_total=done + int(left_s * 10**6))


def test_about_to_pass_its_rpo_before_it_could_finish_counts_as_past() -> None:
    tasks = [running("soon", 2 * H), running("safe", 2 * H), running("slow", None),
             TaskInfo(computer="done", status=TaskStatus.SUCCESS, started=NOW, ended=NOW),
             TaskInfo(computer="wait", status=TaskStatus.PENDING)]
    points = [point("soon", 23), point("safe", 1), point("slow", 25),
              point("done", 30), point("done", 0.5, session="this"), point("wait", 20)]
    costs, finishing = stop_costs(tasks, points, "this", 24, NOW, NOW)
    # soon: 23 h + 2 h left > 24 h; slow: 25 h already (no estimate); safe: 1 h + 2 h
    assert finishing == ["soon", "slow"]
    cost = {c.computer: c for c in costs}
    assert abs((cost["soon"].immediately.age_seconds or 0) - 23 * H) < 1
    assert not cost["soon"].immediately.past_rpo          # not yet: 23 h of 24
    assert cost["soon"].gracefully.gets_point and cost["soon"].gracefully_past_rpo.gets_point
    # gracefully ends in 2 h (the slowest estimate): 'wait' is then 22 h old, 'done' 2.5 h
    assert abs((cost["wait"].gracefully.age_seconds or 0) - 22 * H) < 60
    assert abs((cost["done"].gracefully.age_seconds or 0) - 2.5 * H) < 60
    assert cost["done"].newest_before == NOW - timedelta(hours=30)
    assert not cost["safe"].gracefully_past_rpo.gets_point
    assert abs((cost["safe"].gracefully_past_rpo.age_seconds or 0) - 3 * H) < 60
    assert cost["slow"].immediately.past_rpo and not cost["slow"].gracefully.past_rpo


def test_no_rpo_flags_nothing_and_lets_nothing_finish() -> None:
    costs, finishing = stop_costs([running("a", 10.0)], [], "this", None, NOW, NOW)
    assert finishing == []
    (cost,) = costs
    assert cost.immediately.age_seconds is None and not cost.immediately.past_rpo
    assert cost.gracefully.gets_point and not cost.gracefully_past_rpo.gets_point
