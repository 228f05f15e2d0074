"""Retention: which restore points a job keeps. Pure (no I/O, no clock), so the server's
retention, its preview, a copy job and the console all decide the same way.

The semantics are restic's ``forget`` (and Kopia's): the points are taken newest first;
"keep the last N" keeps the N newest; "daily N" keeps the newest point of each of the N
newest calendar days *that have a point*, counted back from the newest point (a day with no
point does not count), and so on for ISO weeks, months and years. A point is kept when any
rule keeps it, and every rule that keeps it is a reason ("last 3", "daily 2026-12-05",
"weekly 2026-W48", "monthly 2026-11", "yearly 2026"). Each computer's points are decided on
their own, and a computer's only point is never dropped.

Days, weeks, months and years are those of the zone ``tz`` (the server's local zone when
None), as the schedules are.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from core.scheduling.schedule import local_zone

MAX_KEEP = 9999


class GfsRetention(BaseModel):
    """Grandfather-father-son retention on top of "keep the last N": how many daily,
    weekly (ISO week), monthly and yearly points to keep (0: none of that kind)."""

    model_config = ConfigDict(frozen=True)

    keep_daily: int = Field(default=0, ge=0, le=MAX_KEEP)
    keep_weekly: int = Field(default=0, ge=0, le=MAX_KEEP)
    keep_monthly: int = Field(default=0, ge=0, le=MAX_KEEP)
    keep_yearly: int = Field(default=0, ge=0, le=MAX_KEEP)

    @property
    def enabled(self) -> bool:
        return any((self.keep_daily, self.keep_weekly, self.keep_monthly, self.keep_yearly))

    def describe(self) -> str:
        """"7 daily, 4 weekly, 12 monthly" (only the kinds kept); "" when none."""
        parts = [f"{n} {kind}" for n, kind in ((self.keep_daily, "daily"),
                                                (self.keep_weekly, "weekly"),
                                                (self.keep_monthly, "monthly"),
                                                (self.keep_yearly, "yearly")) if n]
        return ", ".join(parts)


class RetainedPoint(Protocol):
    """What retention reads of a point (``core.models.RestorePointInfo`` has it)."""

    @property
    def id(self) -> str: ...
    @property
    def computer(self) -> str: ...
    @property
    def created(self) -> datetime: ...
    @property
    def damaged(self) -> str | None: ...
    @property
    def imported(self) -> bool: ...


@dataclass(frozen=True)
class Decision:
    """One point's fate: kept or dropped, and why (the rules that keep it; for a dropped
    point, empty)."""

    id: str
    computer: str
    created: datetime
    keep: bool
    reasons: tuple[str, ...]

    @property
    def flags(self) -> str:
        """"D W M Y" letters of the GFS rules that keep it ("" when none): the Disk view's
        column."""
        letters = {"daily": "D", "weekly": "W", "monthly": "M", "yearly": "Y"}
        return "".join(letters[r.split()[0]] for r in self.reasons if r.split()[0] in letters)


def _day(t: datetime) -> str:
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}"


def _week(t: datetime) -> str:
    year, week, _ = t.isocalendar()
    return f"{year:04d}-W{week:02d}"


def _month(t: datetime) -> str:
    return f"{t.year:04d}-{t.month:02d}"


def _year(t: datetime) -> str:
    return f"{t.year:04d}"


_BUCKETS: tuple[tuple[str, Callable[[datetime], str]], ...] = (
    ("daily", _day), ("weekly", _week), ("monthly", _month), ("yearly", _year))


def keep_reasons(created: Sequence[datetime], keep_last: int, gfs: GfsRetention,
                 tz: tzinfo | None = None) -> list[tuple[str, ...]]:
    """For times ``created`` sorted NEWEST FIRST (one computer's intact points), the reasons
    each is kept (empty: dropped). With no rule at all (keep_last 0, no GFS) every point is
    kept, as restic keeps every snapshot when given no policy."""
    zone = tz or local_zone()
    counts = {"daily": gfs.keep_daily, "weekly": gfs.keep_weekly,
              "monthly": gfs.keep_monthly, "yearly": gfs.keep_yearly}
    if keep_last <= 0 and not gfs.enabled:
        return [("no retention rule",)] * len(created)
    last_bucket: dict[str, str | None] = {kind: None for kind in counts}
    out: list[tuple[str, ...]] = []
    for i, t in enumerate(created):
        local = t.astimezone(zone)
        reasons: list[str] = []
        if i < keep_last:
            reasons.append(f"last {keep_last}")
        for kind, bucket_of in _BUCKETS:
            bucket = bucket_of(local)
            if counts[kind] > 0 and bucket != last_bucket[kind]:
                last_bucket[kind] = bucket
                counts[kind] -= 1
                reasons.append(f"{kind} {bucket}")
        out.append(tuple(reasons))
    if out and not any(out):   # cannot happen with a rule > 0; the guarantee stays explicit
        out[0] = ("only point",)
    return out


def decide(points: Iterable[RetainedPoint], keep_last: int, gfs: GfsRetention,
           tz: tzinfo | None = None) -> list[Decision]:
    """Every point's fate, computer by computer, oldest first (by time, then id).

    A damaged point never counts as kept (it cannot be restored in full): the rules are
    applied to the intact points; a damaged point newer than a computer's oldest kept one
    stays listed, so that its damage stays visible ("damaged"), an older one goes. Another
    server's point (imported) is that server's to retire: always kept here."""
    by_computer: dict[str, list[RetainedPoint]] = {}
    for p in points:
        by_computer.setdefault(p.computer, []).append(p)
    decisions: list[Decision] = []
    for computer, group in by_computer.items():
        own = sorted((p for p in group if not p.imported), key=lambda p: (p.created, p.id),
                     reverse=True)
        intact = [p for p in own if not p.damaged]
        reasons = dict(zip((p.id for p in intact),
                           keep_reasons([p.created for p in intact], keep_last, gfs, tz)))
        kept = [p for p in intact if reasons[p.id]]
        # While no intact point goes, neither does a damaged one (as before GFS).
        oldest_kept = min(((p.created, p.id) for p in kept), default=None) \
            if len(kept) < len(intact) else None
        for p in group:
            if p.imported:
                why: tuple[str, ...] = ("another server's point",)
            elif p.damaged:
                why = ("damaged",) if oldest_kept is None or (p.created, p.id) > oldest_kept \
                    else ()
            else:
                why = reasons[p.id]
            decisions.append(Decision(p.id, computer, p.created, bool(why), why))
    decisions.sort(key=lambda d: (d.computer, d.created, d.id))
    return decisions
