"""Job schedules: the calendar arithmetic of daily, monthly and periodic runs and backup
windows (the scheduler that starts jobs on them is ``core.service.scheduler``)."""
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
from core.scheduling.retention import Decision, GfsRetention, decide, keep_reasons

__all__ = [
    "ALL_DAYS", "Decision", "GfsRetention", "decide", "keep_reasons", "OCCURRENCES_CAP", "WEEKDAYS", "WEEKENDS", "BackupWindow", "Schedule",
    "ScheduleKind", "Weekday", "format_local", "local_zone", "parse_days",
    "parse_duration_minutes", "parse_hhmm", "parse_window",
]
