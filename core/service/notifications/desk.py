"""The notifications desk: the server's settings, what a finished session
sends, the daily summary and the RPO alerts on the scheduler's clock."""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta, timezone, tzinfo

from pydantic import SecretStr

from core.api import NotificationTest, RepositoryInfo
from core.errors import InvalidInput, NotFound
from core.models import (
    JobDefinition, JobInfo, NotificationSettings, NotifyOn, SessionInfo, SessionResult,
    SessionType,
)
from core.scheduling import local_zone
from core.service.context import ServiceContext
from core.service.notifications.compose import (
    JobState, Message, rpo_message, session_message, summary_message, test_message,
)
from core.service.notifications.delivery import deliver, url_problem
from core.service.notifications.outbox import Outbox
from core.service.notifications.store import SettingsStore

log = logging.getLogger(__name__)

RPO_ALERTED_KEY = "notifications.rpo_alerted"   # JSON list of [job, computer] alerted
RPO_CHECK_EVERY = timedelta(minutes=1)
NOTIFY_OF = {SessionResult.SUCCESS: NotifyOn.SUCCESS, SessionResult.WARNING: NotifyOn.WARNING,
             SessionResult.FAILED: NotifyOn.FAILURE}


class Notifications:
    def __init__(self, ctx: ServiceContext, list_jobs: Callable[[], list[JobInfo]],
                 list_repositories: Callable[[], list[RepositoryInfo]]) -> None:
        self._ctx = ctx
        self._list_jobs = list_jobs
        self._list_repositories = list_repositories
        self._store = SettingsStore(ctx.catalogue, ctx.registry.secrets)
        self.outbox = Outbox(self._current)
        self._summary_since: datetime | None = None   # the summary's last look at the clock
        self._rpo_next: datetime | None = None

    def _current(self) -> tuple[NotificationSettings, str | None]:
        return self._store.load(), self._store.password()

    @property
    def _tz(self) -> tzinfo | None:
        return self._ctx.scheduler.tz

    # -- settings --------------------------------------------------------------
    def get_settings(self) -> NotificationSettings:
        return self._store.load()

    def set_settings(self, settings: NotificationSettings,
            smtp_password: SecretStr | None = None) -> NotificationSettings:
        """Replace the settings. ``smtp_password``: None keeps the one kept, ""
        removes it; no SMTP server removes it too."""
        for url in settings.urls:
            problem = url_problem(url)
            if problem:
                raise InvalidInput(problem)
        if settings.smtp is None:
            self._store.set_password(None)
        elif smtp_password is not None:
            self._store.set_password(smtp_password.get_secret_value())
        if settings.smtp is not None:
            settings = settings.model_copy(update={
                "smtp": settings.smtp.model_copy(update={"password_set": False})})
        self._store.save(settings)
        self._ctx.scheduler_wake.set()
        return self.get_settings()

    def add_url(self, url: str) -> NotificationSettings:
        current = self.get_settings()
        try:
            settings = current.model_copy(update={"urls": NotificationSettings(
                urls=(*current.urls, url)).urls})
        except ValueError as exc:
            raise InvalidInput(_first_error(exc)) from None
        return self.set_settings(settings)

    def remove_url(self, url: str) -> NotificationSettings:
        current = self.get_settings()
        if url.strip() not in current.urls:
            listed = ", ".join(current.urls) or "none"
            raise NotFound(f"No notification URL '{url}' is set (set: {listed}). "
                           "'agent-jobs notifications show' lists them.")
        return self.set_settings(current.model_copy(
            update={"urls": tuple(u for u in current.urls if u != url.strip())}))

    def test(self) -> list[NotificationTest]:
        """Send a test message now to every destination, and say what happened."""
        settings, password = self._current()
        if not settings.configured:
            raise InvalidInput("No notifications are set: give a mail server ('agent-jobs "
                               "notifications set --smtp HOST:PORT --from ADDR --to ADDR') or a "
                               "URL ('agent-jobs notifications add-url URL') first.")
        outcomes = deliver(settings, password, test_message(self._ctx.clock(), self._tz))
        for outcome in outcomes:
            if not outcome.ok:
                log.warning("test notification not delivered: %s", outcome.error)
        return [NotificationTest(destination=o.destination, ok=o.ok, error=o.error)
                for o in outcomes]

    def status(self) -> dict[str, object]:
        """From memory, and from the catalogue when it can be read (the server's
        status must answer on a damaged catalogue too)."""
        try:
            settings: NotificationSettings | None = self.get_settings()
        except Exception:
            settings = None
        return {"configured": settings.configured if settings else None,
                "summary_at": settings.summary_at if settings else None,
                **self.outbox.status()}

    def keeps_server_up(self) -> bool:
        """A daily summary or an RPO alert is due some day: an ``--idle-exit``
        server stays up for it, as for a schedule."""
        settings = self.get_settings()
        return settings.configured and (settings.summary_at is not None or any(
            j.notify.rpo_hours is not None and j.enabled for j in self._ctx.catalogue.jobs()))

    def close(self) -> None:
        self.outbox.close()

    # -- a session ended ---------------------------------------------------------
    def session_finished(self, session: SessionInfo, retry_pending: bool) -> None:
        """Queue the job's notification if its settings ask for one (never raises)."""
        try:
            self._session_finished(session, retry_pending)
        except Exception:
            log.exception("could not queue the notification of session %s", session.id)

    def _session_finished(self, session: SessionInfo, retry_pending: bool) -> None:
        if session.type is not SessionType.BACKUP or session.result is None:
            return
        if not self.get_settings().configured:
            return
        try:
            job = self._ctx.catalogue.job(session.job)
        except NotFound:
            return
        notify = job.notify
        if NOTIFY_OF[session.result] not in notify.on:
            return
        if retry_pending and notify.last_retry_only:
            log.info("session %s of job '%s' ended %s; no notification until its last retry",
                     session.id, job.name, session.result.value)
            return
        self.outbox.put(session_message(session, tz=self._tz, retry_pending=retry_pending,
                                        extra_to=notify.to))

    # -- on the clock: the daily summary and RPO alerts --------------------------
    def tick(self) -> None:
        now = self._ctx.scheduler.now()
        settings = self.get_settings()
        try:
            self._summary_tick(settings, now)
        except Exception:
            log.exception("the daily summary could not be queued")
        try:
            if settings.configured and (self._rpo_next is None or now >= self._rpo_next):
                self._rpo_next = now + RPO_CHECK_EVERY
                self._rpo_tick(now)
        except Exception:
            log.exception("the RPO check failed")

    def seconds_until_next(self) -> float | None:
        """How long until the summary is due (None: no summary set)."""
        at = self.get_settings().summary_at
        if at is None:
            return None
        now = self._ctx.scheduler.now()
        due = self._occurrence(now, at, 0)
        if due <= now:
            due = self._occurrence(now, at, 1)
        return (due - now).total_seconds()

    def _occurrence(self, now: datetime, at: str, days: int) -> datetime:
        zone = self._tz or local_zone()
        day = now.astimezone(zone).date() + timedelta(days=days)
        hh, mm = (int(p) for p in at.split(":"))
        return datetime.combine(day, time(hh, mm)).replace(tzinfo=zone).astimezone(timezone.utc)

    def _summary_tick(self, settings: NotificationSettings, now: datetime) -> None:
        since, self._summary_since = self._summary_since, now
        if since is None or settings.summary_at is None or not settings.configured:
            return
        due = [o for o in (self._occurrence(since, settings.summary_at, 0),
                           self._occurrence(now, settings.summary_at, 0)) if since < o <= now]
        if due:
            self.outbox.put(lambda: self._summary(now))

    def _summary(self, now: datetime) -> Message:
        jobs = self._list_jobs()
        states = [JobState(j, self._ctx.catalogue.latest_finished(j.name)) for j in jobs]
        try:
            repositories = self._list_repositories()
        except Exception as exc:
            log.warning("the daily summary could not list the repositories: %s", exc)
            repositories = []
        return summary_message(states, repositories, now=now, tz=self._tz)

    def _rpo_tick(self, now: datetime) -> None:
        raw = self._ctx.catalogue.get_state(RPO_ALERTED_KEY)
        alerted = {(j, c) for j, c in json.loads(raw)} if raw else set()
        still: set[tuple[str, str]] = set()
        for job in self._ctx.catalogue.jobs():
            if job.notify.rpo_hours is None or not job.enabled:
                continue
            still |= self._rpo_job(job, job.notify.rpo_hours, now, alerted)
        if still != alerted:
            self._ctx.catalogue.set_state(RPO_ALERTED_KEY, json.dumps(sorted(still)))

    def _rpo_job(self, job: JobDefinition, hours: int, now: datetime,
                 alerted: set[tuple[str, str]]) -> set[tuple[str, str]]:
        newest: dict[str, datetime] = {}
        for point in self._ctx.catalogue.points(job.name):
            if point.computer not in newest or point.created > newest[point.computer]:
                newest[point.computer] = point.created
        created = self._ctx.catalogue.job_created(job.name)
        late: set[tuple[str, str]] = set()
        for computer in job.computers:
            last = newest.get(computer.name)
            since = last or created
            if since is None or now - since <= timedelta(hours=hours):
                continue   # cleared (or never late): a later lapse alerts again
            key = (job.name, computer.name)
            late.add(key)
            if key not in alerted:
                self.outbox.put(rpo_message(job.name, computer.name, hours, last, tz=self._tz,
                                            extra_to=job.notify.to))
        return late


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        found = errors()
        if found:
            return str(found[0].get("msg", exc)).removeprefix("Value error, ")
    return str(exc)
