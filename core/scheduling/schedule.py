"""Job schedules: when a job runs automatically, how often a failed run is
retried and the backup window outside which scheduled runs never start.

The vocabulary is the Veeam console's ("Run the job automatically": Daily at
HH:MM on chosen days, Monthly on day N or the last day, Periodically every N
minutes or hours; "Retry failed items processing"; "Terminate job if it exceeds
allowed backup window").

Times are wall-clock times of the server machine. Every function takes an
optional ``tz``; without it the system local zone (``dateutil.tz.tzlocal()``)
is used. Instants handed back are aware datetimes in UTC.

The recurrences are ``dateutil.rrule`` rules evaluated on *naive local wall
clock* datetimes; each occurrence is then placed in the zone:

* a wall time that does not exist (the hour skipped when clocks go forward)
  is moved forward by the gap, so a 02:30 daily job runs at 03:30 that day
  (RFC 5545 §3.3.5); it still runs once that day;
* a wall time that exists twice (the hour repeated when clocks go back) is
  taken at its first occurrence (summer time), so it still runs once;
* occurrences that land on the same instant after that are merged (a
  periodic job's 02:00 on a spring-forward day becomes the 03:00 run).

Periodic schedules are anchored at local midnight of a fixed epoch day
(Monday 2024-01-01 00:00, wall clock) and repeat every N wall-clock minutes
from there. When N divides a day (every 1, 5, 15, 30, 60, 90 minutes, 2, 3,
4, 6, 8, 12 hours ...) this is the same as anchoring at every local midnight:
every 60 min runs at :00, every 90 min at 00:00, 01:30, 03:00 ... each day.
Other periods (every 7 hours, every 2 days) run as a steady series across day
boundaries instead of restarting at midnight. Being wall-clock based, a
periodic job keeps its clock pattern across DST changes: the skipped hour's
slots merge into the next one and the repeated hour's slots run once.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from enum import Enum
from typing import Any

from dateutil import rrule as rr
from dateutil import tz as dtz
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

UTC = timezone.utc

#: Longest list ``occurrences_between`` returns.
OCCURRENCES_CAP = 100
# Safety limits while skipping occurrences outside the backup window: never
# look further ahead than this, nor examine more candidates than that.
_HORIZON = timedelta(days=800)
_MAX_CANDIDATES = 100_000
_DAY_MINUTES = 1440
_WEEK_MINUTES = 7 * _DAY_MINUTES
# Periodic schedules count from local midnight of this (Monday) wall-clock day.
PERIODIC_EPOCH = datetime(2024, 1, 1)

HHMM_MESSAGE = "time must look like HH:MM, for example 22:00"
DAYS_MESSAGE = "choose at least one day"


class Weekday(str, Enum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """0 for Monday ... 6 for Sunday, as ``datetime.weekday()``."""
        return _WEEKDAY_ORDER.index(self)

    @property
    def label(self) -> str:
        return self.value.capitalize()


_WEEKDAY_ORDER = tuple(Weekday)
ALL_DAYS: tuple[Weekday, ...] = _WEEKDAY_ORDER
WEEKDAYS: tuple[Weekday, ...] = _WEEKDAY_ORDER[:5]
WEEKENDS: tuple[Weekday, ...] = _WEEKDAY_ORDER[5:]
_RRULE_DAYS = (rr.MO, rr.TU, rr.WE, rr.TH, rr.FR, rr.SA, rr.SU)


class ScheduleKind(str, Enum):
    DAILY = "daily"
    MONTHLY = "monthly"
    PERIODICALLY = "periodically"


# -- parsing helpers (also used by the command line) ----------------------------

_HHMM_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
_DAY_WORDS: dict[str, tuple[Weekday, ...]] = {
    "weekdays": WEEKDAYS, "workdays": WEEKDAYS,
    "weekends": WEEKENDS, "weekend": WEEKENDS,
    "all": ALL_DAYS, "everyday": ALL_DAYS, "daily": ALL_DAYS,
}
_DAY_NAMES: dict[str, Weekday] = {}
for _day, _names in zip(_WEEKDAY_ORDER, (
        ("mon", "monday"), ("tue", "tues", "tuesday"), ("wed", "wednesday"),
        ("thu", "thur", "thurs", "thursday"), ("fri", "friday"),
        ("sat", "saturday"), ("sun", "sunday"))):
    for _name in _names:
        _DAY_NAMES[_name] = _day


def parse_hhmm(text: str) -> str:
    """``"7:05"`` -> ``"07:05"``. Raises ValueError for anything else."""
    m = _HHMM_RE.match(str(text))
    if not m:
        raise ValueError(HHMM_MESSAGE)
    hour, minute = int(m.group(1)), int(m.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(f"{HHMM_MESSAGE} (hours 00-23, minutes 00-59)")
    return f"{hour:02d}:{minute:02d}"


def _hhmm_time(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


def _sorted_days(days: Iterable[Weekday]) -> tuple[Weekday, ...]:
    chosen = set(days)
    return tuple(d for d in _WEEKDAY_ORDER if d in chosen)


def parse_days(text: str) -> tuple[Weekday, ...]:
    """``"mon,tue,fri"`` -> (MON, TUE, FRI). Also "weekdays", "weekends",
    "all", "everyday" and ranges like "mon-fri"; case-insensitive, separated
    by commas or spaces. The result is in week order, without repeats."""
    tokens = [t for t in re.split(r"[,\s;]+", str(text).strip().lower()) if t]
    if not tokens:
        raise ValueError(DAYS_MESSAGE)
    days: list[Weekday] = []
    for token in tokens:
        if token in _DAY_WORDS:
            days.extend(_DAY_WORDS[token])
        elif token in _DAY_NAMES:
            days.append(_DAY_NAMES[token])
        elif "-" in token and all(p in _DAY_NAMES for p in token.split("-", 1)):
            first, last = (_DAY_NAMES[p].number for p in token.split("-", 1))
            span = range(first, last + 1) if first <= last else \
                [*range(first, 7), *range(0, last + 1)]
            days.extend(_WEEKDAY_ORDER[i] for i in span)
        else:
            raise ValueError(
                f"unknown day {token!r}: use mon, tue, wed, thu, fri, sat, sun "
                "(separated by commas), a range like mon-fri, or weekdays, weekends, all")
    return _sorted_days(days)


def parse_window(text: str) -> tuple[str, str]:
    """``"22:00-06:00"`` -> ("22:00", "06:00")."""
    parts = re.split(r"\s*[-\u2013\u2014]\s*", str(text).strip())
    if len(parts) != 2:
        raise ValueError("the backup window must look like HH:MM-HH:MM, for example 22:00-06:00")
    start, end = parse_hhmm(parts[0]), parse_hhmm(parts[1])
    if start == end:
        raise ValueError("the backup window must end at another time than it starts")
    return start, end


_DURATION_RE = re.compile(r"^(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?$")


def parse_duration_minutes(text: str | int) -> int:
    """``"90m"`` -> 90, ``"4h"`` -> 240, ``"30"`` -> 30 (plain numbers are
    minutes); also ``"1h30m"`` and ``"2d"``. Raises ValueError."""
    s = str(text).strip().lower().replace(" ", "")
    message = "a period must look like 90m, 4h or 30 (minutes)"
    if s.isdigit():
        minutes = int(s)
    else:
        m = _DURATION_RE.match(s)
        if not s or not m or not any(m.groups()):
            raise ValueError(message)
        d, h, mi = (int(g) if g else 0 for g in m.groups())
        minutes = d * 1440 + h * 60 + mi
    if minutes <= 0:
        raise ValueError("a period must be at least 1 minute")
    return minutes


# -- time zone helpers -------------------------------------------------------------

def local_zone() -> tzinfo:
    """The server machine's zone."""
    zone: tzinfo = dtz.tzlocal()
    return zone


def _zone(tz: tzinfo | None) -> tzinfo:
    return tz if tz is not None else local_zone()


def _aware(moment: datetime, tz: tzinfo) -> datetime:
    """``moment`` as an aware datetime; naive values are wall-clock in ``tz``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return _place(moment, tz)
    return moment


def _wall(moment: datetime, tz: tzinfo) -> datetime:
    """The naive local wall-clock time of ``moment`` in ``tz``."""
    return _aware(moment, tz).astimezone(tz).replace(tzinfo=None)


def _place(wall: datetime, tz: tzinfo) -> datetime:
    """A naive wall-clock time in ``tz`` as an aware UTC instant: a time in
    the gap of a forward change is moved forward by the gap; a repeated time
    is taken at its first occurrence (fold=0)."""
    local = wall.replace(tzinfo=tz, fold=0)
    if not dtz.datetime_exists(local):
        local = dtz.resolve_imaginary(local)
    return local.astimezone(UTC)


def format_local(moment: datetime | None, tz: tzinfo | None = None, *,
                 with_date: bool = True) -> str:
    """``2026-03-10 22:00`` (or ``22:00``) in the server's local time."""
    if moment is None:
        return "not scheduled"
    wall = _wall(moment, _zone(tz))
    return wall.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def _describe_days(days: tuple[Weekday, ...]) -> str:
    if days == ALL_DAYS:
        return "every day"
    if days == WEEKDAYS:
        return "on weekdays"
    if days == WEEKENDS:
        return "on weekends"
    return "on " + ", ".join(d.label for d in days)


def _days_field(value: Any) -> Any:
    """Before-validation of a ``days`` field: accept "mon,tue" and "Mon"."""
    if isinstance(value, str):
        return parse_days(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [v.strip().lower() if isinstance(v, str) else v for v in value]
    return value


def _check_days(value: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
    if not value:
        raise ValueError(DAYS_MESSAGE)
    return _sorted_days(value)


# -- models --------------------------------------------------------------------------

class BackupWindow(BaseModel):
    """Scheduled runs start only inside this window. ``days`` are the days
    the window *opens*; a window wrapping midnight (22:00-06:00) that opens on
    Friday also covers Saturday 00:00-06:00."""

    model_config = ConfigDict(frozen=True)

    start: str
    end: str
    days: tuple[Weekday, ...] = ALL_DAYS
    terminate: bool = False   # stop a running job when the window closes
    pause: bool = False       # pause it instead (Resume when the window opens again)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _valid_time(cls, v: Any) -> str:
        return parse_hhmm(v)

    @field_validator("days", mode="before")
    @classmethod
    def _days_input(cls, v: Any) -> Any:
        return _days_field(v)

    @field_validator("days")
    @classmethod
    def _valid_days(cls, v: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        return _check_days(v)

    @model_validator(mode="after")
    def _start_end(self) -> BackupWindow:
        if self.start == self.end:
            raise ValueError("the backup window must end at another time than it starts")
        if self.pause and self.terminate:
            raise ValueError("when the backup window closes a job is paused or terminated, "
                             "not both")
        return self

    @property
    def wraps_midnight(self) -> bool:
        return self.end < self.start

    def _opening(self, wall: datetime) -> date | None:
        """The day whose window contains the wall-clock time, or None."""
        t = wall.time()
        start, end = _hhmm_time(self.start), _hhmm_time(self.end)
        if not self.wraps_midnight:
            if start <= t < end and _WEEKDAY_ORDER[wall.weekday()] in self.days:
                return wall.date()
            return None
        if t >= start and _WEEKDAY_ORDER[wall.weekday()] in self.days:
            return wall.date()
        if t < end:
            previous = wall.date() - timedelta(days=1)
            if _WEEKDAY_ORDER[previous.weekday()] in self.days:
                return previous
        return None

    def contains(self, moment: datetime, tz: tzinfo | None = None) -> bool:
        """Whether ``moment`` lies inside the window (start inclusive, end exclusive)."""
        return self._opening(_wall(moment, _zone(tz))) is not None

    def next_close(self, moment: datetime, tz: tzinfo | None = None) -> datetime | None:
        """When the window containing ``moment`` closes (UTC), or None when
        ``moment`` is outside the window."""
        zone = _zone(tz)
        opened = self._opening(_wall(moment, zone))
        if opened is None:
            return None
        close_day = opened + timedelta(days=1) if self.wraps_midnight else opened
        return _place(datetime.combine(close_day, _hhmm_time(self.end)), zone)

    def next_open(self, moment: datetime, tz: tzinfo | None = None) -> datetime | None:
        """When the window next opens after ``moment`` (UTC); None if it never opens."""
        zone = _zone(tz)
        wall = _wall(moment, zone)
        for ahead in range(9):
            day = wall.date() + timedelta(days=ahead)
            if _WEEKDAY_ORDER[day.weekday()] not in self.days:
                continue
            opens = _place(datetime.combine(day, _hhmm_time(self.start)), zone)
            if opens > moment:
                return opens
        return None

    def describe(self) -> str:
        text = f"{self.start}\u2013{self.end}"
        return text if self.days == ALL_DAYS else f"{text} {_describe_days(self.days)}"


class Schedule(BaseModel):
    """When a job runs automatically."""

    model_config = ConfigDict(frozen=True)

    kind: ScheduleKind
    at: str = "22:00"                        # daily and monthly
    days: tuple[Weekday, ...] = ALL_DAYS     # daily
    day_of_month: int = 1                    # monthly; a shorter month runs on its last day
    last_day: bool = False                   # monthly: the last day of every month
    every_minutes: int = 60                  # periodically
    retries: int = 3
    retry_wait_minutes: int = 10
    window: BackupWindow | None = None

    @field_validator("at", mode="before")
    @classmethod
    def _valid_at(cls, v: Any) -> str:
        return parse_hhmm(v)

    @field_validator("days", mode="before")
    @classmethod
    def _days_input(cls, v: Any) -> Any:
        return _days_field(v)

    @field_validator("days")
    @classmethod
    def _valid_days(cls, v: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        return _check_days(v)

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip().lower()
            if v not in {k.value for k in ScheduleKind}:
                raise ValueError("the schedule must be daily, monthly or periodically")
        return v

    @field_validator("day_of_month")
    @classmethod
    def _day_of_month(cls, v: int) -> int:
        if not 1 <= v <= 31:
            raise ValueError("the day of the month must be between 1 and 31")
        return v

    @field_validator("every_minutes")
    @classmethod
    def _every(cls, v: int) -> int:
        if not 1 <= v <= 10080:
            raise ValueError("the period must be between 1 minute and 7 days (10080 minutes)")
        return v

    @field_validator("retries")
    @classmethod
    def _retries(cls, v: int) -> int:
        if not 0 <= v <= 100:
            raise ValueError("retries must be between 0 and 100")
        return v

    @field_validator("retry_wait_minutes")
    @classmethod
    def _retry_wait(cls, v: int) -> int:
        if not 1 <= v <= 1440:
            raise ValueError("the wait between retries must be between 1 and 1440 minutes")
        return v

    # -- recurrence ------------------------------------------------------------
    def _rule(self, from_wall: datetime) -> rr.rrule:
        """The rrule whose occurrences (naive wall clock) include every run at
        or after ``from_wall`` (and possibly some before; callers filter)."""
        if self.kind is ScheduleKind.PERIODICALLY:
            period = timedelta(minutes=self.every_minutes)
            # The series point at or before from_wall: this only picks where
            # rrule starts counting; rrule produces the series itself.
            start = PERIODIC_EPOCH + ((from_wall - PERIODIC_EPOCH) // period) * period
            return rr.rrule(rr.MINUTELY, interval=self.every_minutes, dtstart=start)
        at = _hhmm_time(self.at)
        start = datetime.combine(from_wall.date(), time())
        common = dict(dtstart=start, byhour=at.hour, byminute=at.minute, bysecond=0)
        if self.kind is ScheduleKind.DAILY:
            return rr.rrule(rr.DAILY, byweekday=[_RRULE_DAYS[d.number] for d in self.days],
                            **common)
        if self.last_day:
            return rr.rrule(rr.MONTHLY, bymonthday=-1, **common)
        if self.day_of_month <= 28:
            return rr.rrule(rr.MONTHLY, bymonthday=self.day_of_month, **common)
        # Day N, or the last day of a month without day N: the first of
        # {N, last day} in each month.
        return rr.rrule(rr.MONTHLY, bymonthday=(self.day_of_month, -1), bysetpos=1, **common)

    def _runs_after(self, after: datetime, tz: tzinfo) -> Iterator[datetime]:
        """Start times (UTC) strictly after ``after``, inside the window, ascending."""
        after = _aware(after, tz).astimezone(UTC)
        # Start a day early: placing a wall time in the zone may move it
        # forward (DST gap), past ``after``.
        from_wall = _wall(after, tz) - timedelta(days=1)
        limit = after + _HORIZON
        most = _MAX_CANDIDATES
        if self.kind is ScheduleKind.PERIODICALLY and self.window is not None:
            # The window repeats weekly; a periodic series takes at most
            # 10080/gcd(N, 10080) distinct places in the week (plus the day
            # skipped back from ``after``): scanning more finds nothing new.
            most = _WEEK_MINUTES // math.gcd(self.every_minutes, _WEEK_MINUTES) \
                + 2 * _DAY_MINUTES // self.every_minutes + 2
        previous: datetime | None = None
        examined = 0   # candidates since the last run found
        for wall in self._rule(from_wall):
            examined += 1
            if examined > most:
                return
            moment = _place(wall, tz)
            if moment > limit:
                return
            if moment <= after or (previous is not None and moment <= previous):
                continue
            previous = moment
            if self.window is not None and not self.window.contains(moment, tz):
                continue
            examined = 0
            yield moment

    def next_runs(self, after: datetime, count: int = 1,
                  tz: tzinfo | None = None) -> list[datetime]:
        """The next ``count`` start times strictly after ``after`` (UTC),
        skipping those outside the backup window. Fewer when the window
        never lets the schedule run."""
        runs: list[datetime] = []
        if count <= 0:
            return runs
        for moment in self._runs_after(after, _zone(tz)):
            runs.append(moment)
            if len(runs) >= count:
                break
        return runs

    def occurrences_between(self, start: datetime, end: datetime, tz: tzinfo | None = None,
                            cap: int = OCCURRENCES_CAP) -> list[datetime]:
        """Start times ``t`` with ``start < t <= end`` (UTC), at most ``cap``
        of them (the earliest)."""
        zone = _zone(tz)
        end = _aware(end, zone)
        runs: list[datetime] = []
        for moment in self._runs_after(start, zone):
            if moment > end or len(runs) >= cap:
                break
            runs.append(moment)
        return runs

    # -- words -----------------------------------------------------------------
    def describe(self) -> str:
        if self.kind is ScheduleKind.DAILY:
            text = f"Daily at {self.at} {_describe_days(self.days)}"
        elif self.kind is ScheduleKind.MONTHLY:
            text = ("Monthly on the last day" if self.last_day
                    else f"Monthly on day {self.day_of_month}") + f" at {self.at}"
        else:
            m = self.every_minutes
            if m % 60:
                text = "Every minute" if m == 1 else f"Every {m} minutes"
            else:
                text = "Every hour" if m == 60 else f"Every {m // 60} hours"
        if self.retries:
            if self.retries == 1:
                text += f", retry once after {self.retry_wait_minutes} min"
            else:
                text += f", retry {self.retries} times every {self.retry_wait_minutes} min"
        if self.window is not None:
            text += f", within {self.window.describe()}"
        return text
