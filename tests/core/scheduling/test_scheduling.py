"""core.scheduling: schedules (rrule based) and the scheduler on a fake clock."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from dateutil import tz as dateutil_tz
from pydantic import ValidationError

from core.errors import JobStateError
from core.models import Computer, JobDefinition
from core.scheduling import (
    BackupWindow,
    Schedule,
    ScheduleKind,
    Weekday,
    parse_days,
    parse_duration_minutes,
    parse_hhmm,
    parse_window,
)
from core.service.scheduler import STATE_KEY, Scheduler

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
# the same zone as dateutil implements it (the production default, tzlocal(), is dateutil's)
BERLIN_ZONES = pytest.mark.parametrize("zone", [BERLIN, dateutil_tz.gettz("Europe/Berlin")],
                                       ids=["zoneinfo", "dateutil"])


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def local(moments: list[datetime], tz=BERLIN) -> list[str]:
    return [m.astimezone(tz).strftime("%a %Y-%m-%d %H:%M") for m in moments]


# -- fakes ----------------------------------------------------------------------------

class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, *args: int) -> None:
        self.now = utc(*args)

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class FakeState:
    def __init__(self, **values: str) -> None:
        self.values = dict(values)
        self.saved = threading.Event()

    def get_state(self, key: str) -> str | None:
        return self.values.get(key)

    def set_state(self, key: str, value: str) -> None:
        self.values[key] = value
        self.saved.set()


class FakeHost:
    def __init__(self, *jobs: JobDefinition) -> None:
        self.jobs = {j.name: j for j in jobs}
        self.running: set[str] = set()
        self.starts: list[tuple[str, bool]] = []
        self.failed_computers: dict[str, list[str]] = {}
        self.fail_start: Exception | None = None
        self.started = threading.Event()

    def scheduled_jobs(self) -> list[JobDefinition]:
        return [j for j in self.jobs.values() if j.schedule is not None]

    def is_running(self, name: str) -> bool:
        return name in self.running

    def start_scheduled(self, name: str, *, retry: bool) -> str:
        if self.fail_start is not None:
            raise self.fail_start
        self.starts.append((name, retry))
        self.running.add(name)
        self.started.set()
        return f"session-{len(self.starts)}"

    def retry_candidates(self, name: str) -> list[str]:
        return list(self.failed_computers.get(name, []))


def job(name: str = "Nightly", schedule: Schedule | None = None, **kw) -> JobDefinition:
    return JobDefinition(name=name, computers=(Computer(name="pc1", path="/tmp/pc1"),
                                               Computer(name="pc2", path="/tmp/pc2")),
                         schedule=schedule, **kw)


def daily(at: str = "22:00", **kw) -> Schedule:
    return Schedule(kind=ScheduleKind.DAILY, at=at, **kw)


def make(clock_at: datetime, *jobs: JobDefinition, state: FakeState | None = None,
         tz=UTC) -> tuple[Scheduler, FakeHost, FakeClock, FakeState]:
    host = FakeHost(*jobs)
    clock = FakeClock(clock_at)
    state = state if state is not None else FakeState()
    return Scheduler(host, state, clock, tz=tz), host, clock, state


# -- next_runs -------------------------------------------------------------------------

def test_daily_every_day_is_strictly_after():
    s = daily("22:00")
    assert s.next_runs(utc(2026, 5, 4, 21, 0), 3, tz=UTC) == [
        utc(2026, 5, 4, 22), utc(2026, 5, 5, 22), utc(2026, 5, 6, 22)]
    # exactly at an occurrence: the next one
    assert s.next_runs(utc(2026, 5, 4, 22, 0), 1, tz=UTC) == [utc(2026, 5, 5, 22)]
    assert all(r.tzinfo is UTC for r in s.next_runs(utc(2026, 5, 4), 3, tz=UTC))


def test_daily_local_zone_results_in_utc():
    s = daily("22:00")
    # Berlin summer time is UTC+2
    assert s.next_runs(berlin(2026, 7, 1, 12, 0), 1, tz=BERLIN) == [utc(2026, 7, 1, 20)]
    # a naive moment is wall-clock time in tz
    assert s.next_runs(datetime(2026, 7, 1, 12, 0), 1, tz=BERLIN) == [utc(2026, 7, 1, 20)]


def test_daily_on_weekdays_skips_the_weekend():
    s = daily("22:00", days="weekdays")
    # Friday 2026-05-08 23:00 -> Monday
    runs = s.next_runs(berlin(2026, 5, 8, 23, 0), 3, tz=BERLIN)
    assert local(runs) == ["Mon 2026-05-11 22:00", "Tue 2026-05-12 22:00", "Wed 2026-05-13 22:00"]


def test_daily_on_chosen_days():
    s = daily("06:30", days=(Weekday.MON, Weekday.WED, Weekday.FRI))
    runs = s.next_runs(utc(2026, 5, 4, 7, 0), 4, tz=UTC)    # Monday after 06:30
    assert local(runs, UTC) == ["Wed 2026-05-06 06:30", "Fri 2026-05-08 06:30",
                                "Mon 2026-05-11 06:30", "Wed 2026-05-13 06:30"]


def test_monthly_day_15():
    s = Schedule(kind="monthly", day_of_month=15, at="03:00")
    assert s.next_runs(utc(2026, 1, 15, 3, 0), 3, tz=UTC) == [
        utc(2026, 2, 15, 3), utc(2026, 3, 15, 3), utc(2026, 4, 15, 3)]


def test_monthly_day_31_runs_on_the_last_day_of_shorter_months():
    s = Schedule(kind="monthly", day_of_month=31, at="03:00")
    assert s.next_runs(utc(2026, 1, 1), 5, tz=UTC) == [
        utc(2026, 1, 31, 3), utc(2026, 2, 28, 3), utc(2026, 3, 31, 3),
        utc(2026, 4, 30, 3), utc(2026, 5, 31, 3)]
    # leap year
    assert s.next_runs(utc(2028, 2, 1), 1, tz=UTC) == [utc(2028, 2, 29, 3)]


def test_monthly_day_30_runs_once_in_a_31_day_month():
    s = Schedule(kind="monthly", day_of_month=30, at="03:00")
    # January: day 30 only (not also the 31st), then February's last day
    assert s.next_runs(utc(2026, 1, 29), 3, tz=UTC) == [
        utc(2026, 1, 30, 3), utc(2026, 2, 28, 3), utc(2026, 3, 30, 3)]
    # after the 30th of a 31-day month, the 31st is not a run
    assert s.next_runs(utc(2026, 1, 30, 4), 1, tz=UTC) == [utc(2026, 2, 28, 3)]


def test_monthly_last_day():
    s = Schedule(kind="monthly", last_day=True, day_of_month=5, at="03:00")
    assert s.next_runs(utc(2024, 1, 1), 4, tz=UTC) == [
        utc(2024, 1, 31, 3), utc(2024, 2, 29, 3), utc(2024, 3, 31, 3), utc(2024, 4, 30, 3)]


def test_periodic_every_90_minutes_across_midnight():
    s = Schedule(kind="periodically", every_minutes=90)
    runs = s.next_runs(utc(2026, 5, 5, 21, 0), 6, tz=UTC)
    assert local(runs, UTC) == ["Tue 2026-05-05 22:30", "Wed 2026-05-06 00:00",
                                "Wed 2026-05-06 01:30", "Wed 2026-05-06 03:00",
                                "Wed 2026-05-06 04:30", "Wed 2026-05-06 06:00"]


def test_periodic_every_hour_runs_on_the_hour():
    s = Schedule(kind="periodically", every_minutes=60)
    assert s.next_runs(berlin(2026, 5, 5, 10, 17), 2, tz=BERLIN) == [
        berlin(2026, 5, 5, 11, 0), berlin(2026, 5, 5, 12, 0)]


def test_periodic_anchor_is_a_fixed_epoch_not_each_midnight():
    # every 7 hours keeps its 7-hour spacing over midnight (epoch Mon 2024-01-01 00:00)
    s = Schedule(kind="periodically", every_minutes=7 * 60)
    runs = s.next_runs(utc(2024, 1, 1, 0, 0) - timedelta(minutes=1), 6, tz=UTC)
    assert local(runs, UTC) == ["Mon 2024-01-01 00:00", "Mon 2024-01-01 07:00",
                                "Mon 2024-01-01 14:00", "Mon 2024-01-01 21:00",
                                "Tue 2024-01-02 04:00", "Tue 2024-01-02 11:00"]
    # every 2 days: at midnight, two days apart, on even days since the epoch
    s2 = Schedule(kind="periodically", every_minutes=2 * 1440)
    runs = s2.next_runs(utc(2026, 5, 4, 12), 3, tz=UTC)
    assert [r - runs[0] for r in runs] == [timedelta(0), timedelta(days=2), timedelta(days=4)]
    assert all(r.hour == 0 and r.minute == 0 for r in runs)
    assert (runs[0] - utc(2024, 1, 1)).days % 2 == 0
    assert runs[0] - utc(2026, 5, 4, 12) <= timedelta(days=2)


@BERLIN_ZONES
def test_dst_spring_forward_daily_0230_runs_once_at_0330(zone):
    """Europe/Berlin 2026-03-29: 02:00 CET jumps to 03:00 CEST. 02:30 does
    not exist that day; the run moves forward by the gap to 03:30 CEST."""
    s = daily("02:30")
    runs = s.next_runs(datetime(2026, 3, 27, 12, 0, tzinfo=zone), 4, tz=zone)
    assert local(runs) == ["Sat 2026-03-28 02:30", "Sun 2026-03-29 03:30",
                           "Mon 2026-03-30 02:30", "Tue 2026-03-31 02:30"]
    assert runs[1] == utc(2026, 3, 29, 1, 30)
    # one run per local day, strictly increasing
    assert len({r.astimezone(BERLIN).date() for r in runs}) == 4
    assert runs == sorted(runs)


@BERLIN_ZONES
def test_dst_fall_back_daily_0230_runs_once_in_summer_time(zone):
    """Europe/Berlin 2026-10-25: 03:00 CEST goes back to 02:00 CET, so 02:30
    happens twice; the job runs once, at the first (CEST) one."""
    s = daily("02:30")
    runs = s.next_runs(datetime(2026, 10, 23, 12, 0, tzinfo=zone), 4, tz=zone)
    assert local(runs) == ["Sat 2026-10-24 02:30", "Sun 2026-10-25 02:30",
                           "Mon 2026-10-26 02:30", "Tue 2026-10-27 02:30"]
    assert runs[1] == utc(2026, 10, 25, 0, 30)      # 02:30 CEST
    assert runs[2] - runs[1] == timedelta(hours=25)
    # asking just after the first 02:30 does not give the repeated one
    assert s.next_runs(utc(2026, 10, 25, 0, 45), 1, tz=zone) == [runs[2]]


@BERLIN_ZONES
def test_dst_periodic_hourly_keeps_the_wall_clock_pattern(zone):
    s = Schedule(kind="periodically", every_minutes=60)
    day_start = berlin(2026, 3, 29, 0, 0) - timedelta(seconds=1)
    runs = [r for r in s.next_runs(day_start, 30, tz=zone)
            if r.astimezone(BERLIN).date() == berlin(2026, 3, 29).date()]
    assert len(runs) == 23                        # the skipped hour's slot merges into 03:00
    assert len(set(runs)) == 23
    assert all(r.astimezone(BERLIN).minute == 0 for r in runs)
    assert local(runs[:3]) == ["Sun 2026-03-29 00:00", "Sun 2026-03-29 01:00",
                               "Sun 2026-03-29 03:00"]
    day_start = berlin(2026, 10, 25, 0, 0) - timedelta(seconds=1)
    runs = [r for r in s.next_runs(day_start, 30, tz=zone)
            if r.astimezone(BERLIN).date() == berlin(2026, 10, 25).date()]
    assert len(runs) == 24                        # the repeated hour runs once
    assert runs == sorted(set(runs))


def test_occurrences_between_is_half_open_and_capped():
    s = daily("22:00")
    assert s.occurrences_between(utc(2026, 5, 4, 22), utc(2026, 5, 6, 22), tz=UTC) == [
        utc(2026, 5, 5, 22), utc(2026, 5, 6, 22)]
    assert s.occurrences_between(utc(2026, 5, 4, 22), utc(2026, 5, 5, 21), tz=UTC) == []
    every_minute = Schedule(kind="periodically", every_minutes=1)
    many = every_minute.occurrences_between(utc(2026, 5, 4), utc(2026, 5, 5), tz=UTC)
    assert len(many) == 100
    assert many[0] == utc(2026, 5, 4, 0, 1)


# -- backup window --------------------------------------------------------------------

def test_window_contains_plain_and_wrapping():
    plain = BackupWindow(start="08:00", end="17:00", days="weekdays")
    assert plain.contains(utc(2026, 5, 4, 8, 0), tz=UTC)          # Monday, start inclusive
    assert not plain.contains(utc(2026, 5, 4, 17, 0), tz=UTC)     # end exclusive
    assert not plain.contains(utc(2026, 5, 9, 12, 0), tz=UTC)     # Saturday

    night = BackupWindow(start="22:00", end="06:00", days=("fri",))
    assert night.wraps_midnight
    assert night.contains(utc(2026, 5, 8, 23, 0), tz=UTC)         # Fri 23:00
    assert night.contains(utc(2026, 5, 9, 5, 59), tz=UTC)         # Sat 05:59: Friday's window
    assert not night.contains(utc(2026, 5, 9, 6, 0), tz=UTC)      # Sat 06:00 closed
    assert not night.contains(utc(2026, 5, 9, 23, 0), tz=UTC)     # Saturday does not open
    assert not night.contains(utc(2026, 5, 8, 5, 0), tz=UTC)      # Fri 05:00 is Thursday's
    assert not night.contains(utc(2026, 5, 8, 21, 59), tz=UTC)


def test_window_next_close():
    night = BackupWindow(start="22:00", end="06:00")
    assert night.next_close(utc(2026, 5, 8, 23, 0), tz=UTC) == utc(2026, 5, 9, 6, 0)
    assert night.next_close(utc(2026, 5, 9, 1, 0), tz=UTC) == utc(2026, 5, 9, 6, 0)
    assert night.next_close(utc(2026, 5, 9, 12, 0), tz=UTC) is None
    plain = BackupWindow(start="08:00", end="17:00")
    assert plain.next_close(berlin(2026, 5, 4, 9, 0), tz=BERLIN) == berlin(2026, 5, 4, 17, 0)


def test_window_filters_periodic_runs_including_wrap():
    s = Schedule(kind="periodically", every_minutes=60,
                 window=BackupWindow(start="22:00", end="06:00"))
    runs = s.next_runs(utc(2026, 5, 4, 12, 0), 9, tz=UTC)
    assert [r.strftime("%d %H:%M") for r in runs] == [
        "04 22:00", "04 23:00", "05 00:00", "05 01:00", "05 02:00", "05 03:00",
        "05 04:00", "05 05:00", "05 22:00"]


def test_window_filters_daily_runs():
    inside = daily("23:00", window=BackupWindow(start="22:00", end="06:00", days="weekdays"))
    runs = inside.next_runs(utc(2026, 5, 8, 12), 2, tz=UTC)        # Friday
    assert local(runs, UTC) == ["Fri 2026-05-08 23:00", "Mon 2026-05-11 23:00"]
    never = daily("21:00", window=BackupWindow(start="22:00", end="06:00"))
    assert never.next_runs(utc(2026, 5, 4), 1, tz=UTC) == []
    hopeless = Schedule(kind="periodically", every_minutes=2,
                        window=BackupWindow(start="01:01", end="01:02"))
    assert hopeless.next_runs(utc(2026, 5, 4), 1, tz=UTC) == []    # and returns (bounded scan)


# -- describe ---------------------------------------------------------------------------

@pytest.mark.parametrize("schedule, text", [
    (daily("22:00", days="weekdays", retries=0), "Daily at 22:00 on weekdays"),
    (daily("06:30", retries=0), "Daily at 06:30 every day"),
    (daily("22:00", days="mon,wed,fri", retries=0), "Daily at 22:00 on Mon, Wed, Fri"),
    (daily("22:00", days="sat,sun", retries=0), "Daily at 22:00 on weekends"),
    (Schedule(kind="monthly", day_of_month=15, at="03:00", retries=0),
     "Monthly on day 15 at 03:00"),
    (Schedule(kind="monthly", last_day=True, at="03:00", retries=0),
     "Monthly on the last day at 03:00"),
    (Schedule(kind="periodically", every_minutes=240, retries=0), "Every 4 hours"),
    (Schedule(kind="periodically", every_minutes=90, retries=0), "Every 90 minutes"),
    (Schedule(kind="periodically", every_minutes=60, retries=0), "Every hour"),
    (daily("22:00", days="weekdays"), "Daily at 22:00 on weekdays, retry 3 times every 10 min"),
    (daily("22:00", retries=1, retry_wait_minutes=5), "Daily at 22:00 every day, retry once after 5 min"),
    (Schedule(kind="periodically", every_minutes=240,
              window=BackupWindow(start="22:00", end="06:00")),
     "Every 4 hours, retry 3 times every 10 min, within 22:00\u201306:00"),
    (Schedule(kind="periodically", every_minutes=90, retries=0,
              window=BackupWindow(start="22:00", end="06:00", days="weekdays")),
     "Every 90 minutes, within 22:00\u201306:00 on weekdays"),
])
def test_describe(schedule: Schedule, text: str):
    assert schedule.describe() == text


# -- validation and parsing --------------------------------------------------------------

@pytest.mark.parametrize("fields, message", [
    ({"kind": "daily", "at": "25:00"}, "time must look like HH:MM, for example 22:00"),
    ({"kind": "daily", "at": "2200"}, "time must look like HH:MM, for example 22:00"),
    ({"kind": "daily", "days": []}, "choose at least one day"),
    ({"kind": "daily", "days": "someday"}, "unknown day 'someday'"),
    ({"kind": "monthly", "day_of_month": 0}, "day of the month must be between 1 and 31"),
    ({"kind": "monthly", "day_of_month": 32}, "day of the month must be between 1 and 31"),
    ({"kind": "periodically", "every_minutes": 0}, "between 1 minute and 7 days"),
    ({"kind": "periodically", "every_minutes": 10081}, "between 1 minute and 7 days"),
    ({"kind": "daily", "retries": 101}, "retries must be between 0 and 100"),
    ({"kind": "daily", "retry_wait_minutes": 0}, "between 1 and 1440 minutes"),
    ({"kind": "weekly"}, "daily, monthly or periodically"),
    ({"kind": "daily", "window": {"start": "22:00", "end": "22:00"}},
     "the backup window must end at another time than it starts"),
    ({"kind": "daily", "window": {"start": "22:00", "end": "6"}}, "time must look like HH:MM"),
    ({"kind": "daily", "window": {"start": "22:00", "end": "06:00", "days": ()}},
     "choose at least one day"),
])
def test_validation_messages(fields: dict, message: str):
    with pytest.raises(ValidationError) as info:
        Schedule.model_validate(fields)
    assert message in str(info.value)


def test_models_normalise_and_are_frozen():
    s = Schedule(kind="DAILY", at="7:05", days=["Fri", "mon", "fri"])
    assert s.kind is ScheduleKind.DAILY
    assert s.at == "07:05"
    assert s.days == (Weekday.MON, Weekday.FRI)
    with pytest.raises(ValidationError):
        s.at = "08:00"  # type: ignore[misc]


def test_job_definition_schedule_round_trip_and_old_rows():
    old = '{"name": "Old", "computers": [{"name": "pc1", "path": "/tmp/pc1"}]}'
    assert JobDefinition.model_validate_json(old).schedule is None
    j = job(schedule=daily("23:15", days="weekdays",
                           window=BackupWindow(start="22:00", end="06:00", terminate=True)))
    back = JobDefinition.model_validate_json(j.model_dump_json())
    assert back == j
    assert back.schedule.window.terminate is True
    assert back.schedule.days == (Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU,
                                  Weekday.FRI)


def test_parse_days():
    assert parse_days("mon,tue,fri") == (Weekday.MON, Weekday.TUE, Weekday.FRI)
    assert parse_days("FRI, Mon") == (Weekday.MON, Weekday.FRI)
    assert parse_days("weekdays") == tuple(Weekday)[:5]
    assert parse_days("Weekends") == (Weekday.SAT, Weekday.SUN)
    assert parse_days("all") == tuple(Weekday)
    assert parse_days("EVERYDAY") == tuple(Weekday)
    assert parse_days("mon-wed") == (Weekday.MON, Weekday.TUE, Weekday.WED)
    assert parse_days("sat-mon") == (Weekday.MON, Weekday.SAT, Weekday.SUN)
    with pytest.raises(ValueError, match="unknown day 'funday'"):
        parse_days("mon,funday")
    with pytest.raises(ValueError, match="choose at least one day"):
        parse_days(" , ")


def test_parse_hhmm_window_and_duration():
    assert parse_hhmm("7:05") == "07:05"
    assert parse_hhmm(" 22:00 ") == "22:00"
    for bad in ("24:00", "7:5", "12:60", "noon", ""):
        with pytest.raises(ValueError, match="HH:MM"):
            parse_hhmm(bad)
    assert parse_window("22:00-06:00") == ("22:00", "06:00")
    assert parse_window("8:00 \u2013 17:30") == ("08:00", "17:30")
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        parse_window("22:00")
    with pytest.raises(ValueError, match="another time"):
        parse_window("22:00-22:00")
    assert parse_duration_minutes("90m") == 90
    assert parse_duration_minutes("4h") == 240
    assert parse_duration_minutes("30") == 30
    assert parse_duration_minutes("1h30m") == 90
    assert parse_duration_minutes("2d") == 2880
    for bad in ("", "h", "4x", "-5", "0"):
        with pytest.raises(ValueError, match="period"):
            parse_duration_minutes(bad)


# -- the scheduler ------------------------------------------------------------------------

def test_tick_fires_once_per_occurrence():
    sched, host, clock, state = make(utc(2026, 5, 4, 21, 58), job(schedule=daily("22:00")))
    assert sched.tick() == []
    clock.set(2026, 5, 4, 21, 59, 59)
    assert sched.tick() == []
    clock.set(2026, 5, 4, 22, 0)
    assert sched.tick() == ["Nightly"]
    host.running.clear()
    clock.set(2026, 5, 4, 22, 0, 30)
    assert sched.tick() == []
    clock.set(2026, 5, 4, 23, 0)
    assert sched.tick() == []
    assert host.starts == [("Nightly", False)]
    # irregular ticks: nothing between 21:30 and 22:07, still exactly one start
    clock.set(2026, 5, 5, 21, 30)
    assert sched.tick() == []
    clock.set(2026, 5, 5, 22, 7)
    assert sched.tick() == ["Nightly"]
    clock.set(2026, 5, 5, 22, 8)
    assert sched.tick() == []
    assert host.starts == [("Nightly", False), ("Nightly", False)]
    # the last tick is persisted
    assert datetime.fromisoformat(state.values[STATE_KEY]) == utc(2026, 5, 5, 22, 8)


def test_tick_uses_the_local_zone():
    sched, host, clock, _ = make(utc(2026, 7, 1, 19, 59), job(schedule=daily("22:00")), tz=BERLIN)
    assert sched.next_run(host.jobs["Nightly"]) == utc(2026, 7, 1, 20, 0)
    sched.tick()
    clock.set(2026, 7, 1, 20, 0)
    assert sched.tick() == ["Nightly"]


def test_job_still_running_is_not_started_twice(caplog):
    sched, host, clock, _ = make(utc(2026, 5, 4, 21, 0),
                                 job(schedule=Schedule(kind="periodically", every_minutes=60)))
    sched.tick()
    host.running.add("Nightly")                     # e.g. a manual run
    clock.set(2026, 5, 4, 22, 0)
    with caplog.at_level(logging.WARNING):
        assert sched.tick() == []
    assert "Job 'Nightly' is still running; the scheduled run at 22:00 was skipped" \
        in caplog.text
    clock.set(2026, 5, 4, 22, 30)
    host.running.clear()
    assert sched.tick() == []                      # the skipped run is not caught up
    clock.set(2026, 5, 4, 23, 0)
    assert sched.tick() == ["Nightly"]
    assert host.starts == [("Nightly", False)]


def test_disabled_job_never_starts():
    sched, host, clock, _ = make(utc(2026, 5, 4, 21, 0),
                                 job(schedule=daily("22:00"), enabled=False),
                                 job("Plain"))
    assert sched.next_run(host.jobs["Nightly"]) is None
    assert sched.next_run(host.jobs["Plain"]) is None       # no schedule
    for hour in (21, 22, 23):
        clock.set(2026, 5, 4, hour, 0)
        assert sched.tick() == []
    assert host.starts == []
    assert sched.seconds_until_next() is None


def test_missed_runs_are_logged_not_replayed(caplog):
    state = FakeState(**{STATE_KEY: utc(2026, 5, 1, 12, 0).isoformat()})
    sched, host, clock, _ = make(utc(2026, 5, 4, 12, 0), job(schedule=daily("22:00")),
                                 state=state)
    with caplog.at_level(logging.WARNING):
        assert sched.tick() == []
    missed = [r.getMessage() for r in caplog.records if "Missed scheduled run" in r.getMessage()]
    assert missed == [
        f"Missed scheduled run of job 'Nightly' at 2026-05-0{d} 22:00: the backup server "
        "was not running. It is not run now; the next run is at 2026-05-04 22:00"
        for d in (1, 2, 3)]
    assert host.starts == []
    assert datetime.fromisoformat(state.values[STATE_KEY]) == utc(2026, 5, 4, 12, 0)
    caplog.clear()
    clock.set(2026, 5, 4, 22, 0)
    with caplog.at_level(logging.WARNING):
        assert sched.tick() == ["Nightly"]
    assert "Missed" not in caplog.text


def test_missed_runs_log_is_capped(caplog):
    state = FakeState(**{STATE_KEY: utc(2026, 5, 3, 0, 0).isoformat()})
    sched, host, _, _ = make(utc(2026, 5, 4, 0, 0, 30),
                             job(schedule=Schedule(kind="periodically", every_minutes=1)),
                             state=state)
    with caplog.at_level(logging.WARNING):
        assert sched.tick() == []
    lines = [r.getMessage() for r in caplog.records]
    assert sum("Missed scheduled run" in line for line in lines) == 10
    assert any("missed at least 90 more scheduled runs" in line for line in lines)
    assert host.starts == []


def test_no_persisted_tick_means_nothing_missed(caplog):
    sched, host, clock, _ = make(utc(2026, 5, 4, 23, 0), job(schedule=daily("22:00")))
    with caplog.at_level(logging.WARNING):
        assert sched.tick() == []
    assert caplog.text == ""
    clock.set(2026, 5, 5, 22, 0)
    assert sched.tick() == ["Nightly"]


def test_start_errors_are_logged_not_raised(caplog):
    sched, host, clock, _ = make(utc(2026, 5, 4, 21, 0), job(schedule=daily("22:00")),
                                 job("Other", schedule=daily("22:00")))
    sched.tick()
    host.fail_start = JobStateError("Repository is offline.")
    clock.set(2026, 5, 4, 22, 0)
    with caplog.at_level(logging.ERROR):
        assert sched.tick() == []
    assert "Could not start job 'Nightly' at its scheduled time 22:00: Repository is offline." \
        in caplog.text
    assert "Could not start job 'Other'" in caplog.text
    host.fail_start = None
    clock.set(2026, 5, 5, 22, 0)
    assert sorted(sched.tick()) == ["Nightly", "Other"]


def test_window_closed_at_tick_time_skips_the_run(caplog):
    s = daily("05:59", window=BackupWindow(start="22:00", end="06:00"))
    sched, host, clock, _ = make(utc(2026, 5, 4, 5, 0), job(schedule=s))
    sched.tick()
    clock.set(2026, 5, 4, 6, 1)                   # the tick comes late, window closed
    with caplog.at_level(logging.WARNING):
        assert sched.tick() == []
    assert "backup window 22:00\u201306:00 is closed" in caplog.text


def _failed_run(sched: Scheduler, host: FakeHost, name: str = "Nightly", *,
                failed: bool = True, scheduled: bool = True) -> None:
    host.running.discard(name)
    sched.session_finished(name, f"session-{len(host.starts)}", failed=failed,
                           scheduled=scheduled)


def test_retries_n_times_m_minutes_apart_only_failed_computers(caplog):
    s = daily("22:00", retries=2, retry_wait_minutes=10)
    sched, host, clock, _ = make(utc(2026, 5, 4, 21, 0), job(schedule=s))
    host.failed_computers["Nightly"] = ["pc2"]
    sched.tick()
    clock.set(2026, 5, 4, 22, 0)
    assert sched.tick() == ["Nightly"]
    clock.set(2026, 5, 4, 22, 30)
    _failed_run(sched, host)
    assert sched.pending_retry("Nightly") == utc(2026, 5, 4, 22, 40)
    assert sched.seconds_until_next() == 600
    clock.set(2026, 5, 4, 22, 39, 59)
    assert sched.tick() == []
    clock.set(2026, 5, 4, 22, 40)
    with caplog.at_level(logging.INFO):
        assert sched.tick() == ["Nightly"]
    assert "Retry 1 of 2 of job 'Nightly' started for pc2" in caplog.text
    clock.set(2026, 5, 4, 22, 45)
    _failed_run(sched, host)
    assert sched.pending_retry("Nightly") == utc(2026, 5, 4, 22, 55)
    clock.set(2026, 5, 4, 22, 55)
    assert sched.tick() == ["Nightly"]
    clock.set(2026, 5, 4, 23, 0)
    with caplog.at_level(logging.WARNING):
        _failed_run(sched, host)
    assert sched.pending_retry("Nightly") is None          # retries used up
    assert "failed again after 2 retries" in caplog.text
    clock.set(2026, 5, 4, 23, 30)
    assert sched.tick() == []
    assert host.starts == [("Nightly", False), ("Nightly", True), ("Nightly", True)]


def test_retry_needs_failed_computers():
    sched, host, clock, _ = make(utc(2026, 5, 4, 21, 0), job(schedule=daily("22:00")))
    sched.tick()
    clock.set(2026, 5, 4, 22, 0)
    sched.tick()
    _failed_run(sched, host)
    host.failed_computers["Nightly"] = []          # e.g. the computer was removed meanwhile
    clock.set(2026, 5, 4, 22, 10)
    assert sched.tick() == []
    assert sched.pending_retry("Nightly") is None
    assert host.starts == [("Nightly", False)]


def test_success_resets_the_retry_counter(caplog):
    s = daily("22:00", retries=2, retry_wait_minutes=10)
    sched, host, clock, _ = make(utc(2026, 5, 4, 21, 0), job(schedule=s))
    host.failed_computers["Nightly"] = ["pc1"]
    sched.tick()
    clock.set(2026, 5, 4, 22, 0)
    sched.tick()
    _failed_run(sched, host)
    clock.set(2026, 5, 4, 22, 10)
    assert sched.tick() == ["Nightly"]             # retry 1
    _failed_run(sched, host, failed=False)          # the retry succeeded
    assert sched.pending_retry("Nightly") is None
    clock.set(2026, 5, 4, 22, 30)
    assert sched.tick() == []
    caplog.clear()
    with caplog.at_level(logging.INFO):
        _failed_run(sched, host)                    # a later scheduled failure starts over
    assert "retry 1 of 2" in caplog.text


def test_manual_run_failure_is_not_retried():
    sched, host, clock, _ = make(utc(2026, 5, 4, 21, 0), job(schedule=daily("22:00")))
    host.failed_computers["Nightly"] = ["pc1"]
    sched.tick()
    _failed_run(sched, host, scheduled=False)
    assert sched.pending_retry("Nightly") is None
    clock.set(2026, 5, 4, 21, 30)
    assert sched.tick() == []


def test_retry_waits_while_the_job_runs_and_a_scheduled_run_supersedes_it():
    s = Schedule(kind="periodically", every_minutes=60, retry_wait_minutes=10)
    sched, host, clock, _ = make(utc(2026, 5, 4, 20, 59), job(schedule=s))
    host.failed_computers["Nightly"] = ["pc1"]
    sched.tick()
    clock.set(2026, 5, 4, 21, 0)
    sched.tick()
    _failed_run(sched, host)
    host.running.add("Nightly")                    # a manual run holds the job
    clock.set(2026, 5, 4, 21, 10)
    assert sched.tick() == []
    assert sched.pending_retry("Nightly") == utc(2026, 5, 4, 21, 10)
    assert sched.seconds_until_next() == 50 * 60   # the waiting retry does not spin the loop
    host.running.clear()
    clock.set(2026, 5, 4, 21, 12)
    assert sched.tick() == ["Nightly"]
    assert host.starts[-1] == ("Nightly", True)
    _failed_run(sched, host)
    assert sched.pending_retry("Nightly") == utc(2026, 5, 4, 21, 22)
    clock.set(2026, 5, 4, 22, 0)                   # the scheduled run comes first
    assert sched.tick() == ["Nightly"]
    assert host.starts[-1] == ("Nightly", False)
    assert sched.pending_retry("Nightly") is None


def test_next_run_depends_only_on_schedule_and_clock():
    sched, host, clock, _ = make(utc(2026, 5, 4, 21, 0), job(schedule=daily("22:00")))
    j = host.jobs["Nightly"]
    assert sched.next_run(j) == utc(2026, 5, 4, 22, 0)
    host.running.add("Nightly")                      # manual start
    sched.session_finished("Nightly", "manual-1", failed=False, scheduled=False)
    assert sched.next_run(j) == utc(2026, 5, 4, 22, 0)
    clock.set(2026, 5, 4, 22, 0, 1)
    assert sched.next_run(j) == utc(2026, 5, 5, 22, 0)


def test_seconds_until_next():
    sched, host, clock, _ = make(utc(2026, 5, 4, 21, 59), job(schedule=daily("22:00")))
    assert sched.seconds_until_next() == 60
    sched.tick()
    clock.set(2026, 5, 4, 22, 0, 30)               # due, not ticked yet
    assert sched.seconds_until_next() == 0
    sched.tick()
    assert sched.seconds_until_next() == 24 * 3600 - 30


def test_clock_going_back_does_not_repeat_a_run():
    sched, host, clock, _ = make(utc(2026, 5, 4, 21, 59), job(schedule=daily("22:00")))
    sched.tick()
    clock.set(2026, 5, 4, 22, 1)
    assert sched.tick() == ["Nightly"]
    host.running.clear()
    clock.set(2026, 5, 4, 21, 30)                   # the system clock is set back
    assert sched.tick() == []
    clock.set(2026, 5, 4, 22, 2)
    assert sched.tick() == []
    assert host.starts == [("Nightly", False)]


def test_run_loop_ticks_and_stops():
    sched, host, clock, state = make(utc(2026, 5, 4, 21, 59), job(schedule=daily("22:00")))
    stop, wake = threading.Event(), threading.Event()
    loop = threading.Thread(target=sched.run, args=(stop, wake), daemon=True)
    loop.start()
    assert state.saved.wait(10), "the loop did not tick"
    assert host.starts == []
    clock.set(2026, 5, 4, 22, 0)
    wake.set()                                      # e.g. a job was changed
    assert host.started.wait(10), "the loop did not start the due job"
    stop.set()
    wake.set()
    loop.join(10)
    assert not loop.is_alive()
    assert host.starts == [("Nightly", False)]
