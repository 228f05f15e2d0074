"""What front ends see of the backup server.

* :mod:`core.api.protocol` — :class:`BackupApi`, the one facade every front end calls;
* :mod:`core.api.reports` — the reports it returns (stop previews, restore and verify reports, ...);
* :mod:`core.api.text` — the operator's words for jobs, schedules, sessions and sizes;
* :mod:`core.api.client`, :mod:`core.api.launcher`, :mod:`core.api.sockets`, :mod:`core.api.wire` —
  the HTTP client that implements :class:`BackupApi` over the server's REST API, and how it finds or
  starts the server (imported explicitly: they are not re-exported here, so reading a report does not
  load an HTTP stack).
"""
from __future__ import annotations

from core.api.protocol import BackupApi
from core.api.overview import (
    DayResults, FailureInfo, HomeOverview, LastDayCounts, NextRunInfo,
)
from core.api.reports import (
    BulkResult, ComputerEstimate, ComputerPreview, DeleteReport, NotificationTest,
    RepositoryInfo, RepositoryKeyInfo, DiskUsage,
    RepositorySpec, RestoreReport, RetentionPreview, PointAge, PointRetention, ScopePreview, StopCost, StopPreview, VerifyReport, report_damaged_paths,
    restore_report, retention_preview, verify_report,
)
from core.api.text import (
    SessionFigures, clone_name, clone_note, describe_schedule, describe_settings, job_summary,
    made_text, repository_kind_text, session_figures, session_percent, size_text, stopped_text,
    task_percent, verify_problem_text,
)

__all__ = [
    "BackupApi", "DayResults", "FailureInfo", "HomeOverview", "LastDayCounts", "NextRunInfo",
    "BulkResult", "ComputerEstimate", "ComputerPreview", "DeleteReport", "DiskUsage",
    "RepositoryInfo", "NotificationTest",
    "RepositoryKeyInfo", "RepositorySpec", "RestoreReport", "RetentionPreview", "PointAge", "PointRetention", "ScopePreview", "StopCost", "StopPreview", "VerifyReport",
    "report_damaged_paths", "restore_report", "retention_preview", "verify_report", "SessionFigures", "clone_name", "clone_note", "describe_schedule",
    "describe_settings", "job_summary", "made_text", "repository_kind_text", "session_figures", "size_text", "stopped_text",
    "verify_problem_text", "session_percent", "task_percent",
]
