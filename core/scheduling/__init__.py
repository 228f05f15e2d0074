"""Job schedules and the scheduler (Qt-free)."""
from core.scheduling.schedule import (
    ALL_DAYS,
    OCCURRENCES_CAP,
    WEEKDAYS,
    WEEKENDS,
    BackupWindow,
    Schedule,
    ScheduleKind,
    Weekday,
    format_local,
    local_zone,
    parse_days,
    parse_duration_minutes,
    parse_hhmm,
    parse_window,
)
from core.scheduling.scheduler import STATE_KEY, Scheduler, SchedulerHost, StateStore

__all__ = [
    "ALL_DAYS", "OCCURRENCES_CAP", "WEEKDAYS", "WEEKENDS", "BackupWindow", "Schedule",
    "ScheduleKind", "Weekday", "format_local", "local_zone", "parse_days",
    "parse_duration_minutes", "parse_hhmm", "parse_window", "STATE_KEY", "Scheduler",
    "SchedulerHost", "StateStore",
]
