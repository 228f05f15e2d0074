"""``GET /metrics``: the server's state in Prometheus' text format.

A custom collector reads the catalogue (and the repositories' space) at every
scrape, so nothing is kept in a global registry and a value is never staler
than the request that asks for it. Names start with ``agent_``; a job's or
repository's name is its label.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from core.models import SessionResult

if TYPE_CHECKING:
    from core.service.facade import BackupService

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4   # what Prometheus asks for and parses

# agent_job_last_result: a number per result, so alerts can say "> 0".
RESULT_CODE = {SessionResult.SUCCESS: 0, SessionResult.WARNING: 1, SessionResult.FAILED: 2}


def notification_failures(service: BackupService) -> int:
    """Notifications (mail, notification URLs) that failed to send since the server
    started, as ``server status`` counts them."""
    failed = service.notification_status().get("failed", 0)
    return failed if isinstance(failed, int) else 0


class ServerCollector:
    """A ``prometheus_client`` collector over one backup server's service."""

    def __init__(self, service: BackupService,
                 failures: Callable[[], int] | None = None) -> None:
        self._service = service
        self._failures = failures or (lambda: notification_failures(service))

    def collect(self) -> Iterable[Metric]:
        yield from self._jobs()
        running = GaugeMetricFamily("agent_running_sessions",
                                    "Sessions running now, by type (Backup, Restore, Verify, "
                                    "Maintenance)", labels=["type"])
        for kind, count in self._service.running_session_counts().items():
            running.add_metric([kind.value], count)
        yield running
        yield from self._repositories()
        yield GaugeMetricFamily("agent_notification_failures_total",
                                "Notifications that failed to send since the server started",
                                value=self._failures())

    def _jobs(self) -> Iterator[Metric]:
        result = GaugeMetricFamily(
            "agent_job_last_result", "Result of the job's last finished backup session: "
            "0 Success, 1 Warning, 2 Failed (absent: it never ran)", labels=["job"])
        success = GaugeMetricFamily(
            "agent_job_last_success_timestamp_seconds", "When the job's last session that "
            "made restore points (Success or Warning) ended, Unix time", labels=["job"])
        duration = GaugeMetricFamily(
            "agent_job_last_duration_seconds", "Duration of the job's last finished backup "
            "session", labels=["job"])
        read = GaugeMetricFamily(
            "agent_job_last_read_bytes", "Bytes the job's last finished backup session read "
            "from its computers", labels=["job"])
        stored = GaugeMetricFamily(
            "agent_job_last_stored_bytes", "Bytes the job's last finished backup session "
            "wrote to its repository (new data, after dedup and compression)", labels=["job"])
        for job in self._service.job_metrics():
            if job.last_result is not None:
                result.add_metric([job.job], RESULT_CODE[job.last_result])
                read.add_metric([job.job], job.last_bytes_read)
                stored.add_metric([job.job], job.last_bytes_stored)
            if job.last_duration_s is not None:
                duration.add_metric([job.job], job.last_duration_s)
            if job.last_success is not None:
                success.add_metric([job.job], job.last_success.timestamp())
        yield from (result, success, duration, read, stored)

    def _repositories(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("agent_repository_up", "1 when the repository can be reached "
                               "and opened, 0 when not (see Backup Infrastructure for why)",
                               labels=["repository"])
        used = GaugeMetricFamily("agent_repository_used_bytes", "Space the repository's data "
                                 "takes", labels=["repository"])
        free = GaugeMetricFamily("agent_repository_free_bytes", "Free space where the "
                                 "repository is stored (absent when the storage does not say)",
                                 labels=["repository"])
        capacity = GaugeMetricFamily("agent_repository_capacity_bytes", "Size of the storage "
                                     "that holds the repository (absent when it does not say)",
                                     labels=["repository"])
        for repo in self._service.list_repositories():
            up.add_metric([repo.name], 0 if repo.problem else 1)
            for family, value in ((used, repo.used_bytes), (free, repo.free_bytes),
                                  (capacity, repo.capacity_bytes)):
                if value is not None:
                    family.add_metric([repo.name], value)
        yield from (up, used, free, capacity)


def render(collector: ServerCollector) -> bytes:
    """The text exposition of one scrape."""
    return generate_latest(collector)
