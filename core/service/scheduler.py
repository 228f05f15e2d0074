"""The scheduler: starts jobs at their scheduled times and retries failed runs.

Qt-free and clock-injected: ``tick()`` does all the work at ``clock()``;
only ``run()`` waits (on an Event), so tests drive the scheduler by advancing
a fake clock and calling ``tick()``.

Rules:

* a run is due when an occurrence of the job's schedule lies after the last
  tick and at or before now, so each occurrence fires once however irregular
  the ticks are (several occurrences passed at once start the job once);
* a disabled job never starts; a job still running is not started twice;
* on the first tick, occurrences between the persisted last tick
  (``scheduler.last_tick``) and now were missed while the server was down:
  they are logged, not run;
* a scheduled or retry run that ended with failed computers is retried
  ``retries`` times, ``retry_wait_minutes`` apart (the host's retry processes
  only the failed computers); a successful run ends the retries; the next
  scheduled run starts afresh. A retry falling due while the job runs waits
  until it is idle; one falling outside the backup window is dropped.
"""
from __future__ import annotations

import logging
import threading
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Protocol

from core.scheduling.schedule import Schedule, _aware, _zone, format_local

if TYPE_CHECKING:   # core.models imports core.scheduling: no import at run time
    from core.models import JobDefinition

UTC = timezone.utc
STATE_KEY = "scheduler.last_tick"
MAX_SLEEP_S = 60.0
MISSED_LOG_CAP = 10   # missed runs logged one by one per job; the rest summed up


class SchedulerHost(Protocol):
    def scheduled_jobs(self) -> list[JobDefinition]:
        """Jobs that have a schedule (enabled or not)."""
    def is_running(self, name: str) -> bool: ...
    def start_scheduled(self, name: str, *, retry: bool) -> str:
        """Start a scheduled (or retry) run; returns the session id. May
        raise ``core.errors.ConsoleError``."""
    def retry_candidates(self, name: str) -> list[str]:
        """Computers that failed in the job's last finished session."""


class StateStore(Protocol):
    def get_state(self, key: str) -> str | None: ...
    def set_state(self, key: str, value: str) -> None: ...


@dataclass
class _Retry:
    due: datetime        # UTC
    attempt: int         # 1 for the first retry
    waiting: bool = False  # due, but the job was running: retried once it is idle


class Scheduler:
    def __init__(self, host: SchedulerHost, state: StateStore,
                 clock: Callable[[], datetime], tz: tzinfo | None = None,
                 log: logging.Logger | None = None) -> None:
        self._host = host
        self._state = state
        self._clock = clock
        self._tz = tz   # None: the system's local zone, looked up at each use
        self._log = log or logging.getLogger("core.scheduler")
        self._tick_lock = threading.Lock()   # one tick at a time
        self._lock = threading.RLock()       # guards the fields below
        self._last_tick: datetime | None = None
        self._retries: dict[str, _Retry] = {}
        self._attempts: dict[str, int] = {}  # retries started since the last scheduled run

    # -- queries ---------------------------------------------------------------
    @property
    def tz(self) -> tzinfo | None:
        """The zone of schedule times (None: the system's local zone)."""
        return self._tz

    def now(self) -> datetime:
        return _aware(self._clock(), _zone(self._tz)).astimezone(UTC)

    def next_run(self, job: JobDefinition) -> datetime | None:
        """The job's next scheduled start (UTC): None without a schedule or
        when disabled. Depends only on the schedule and the clock."""
        schedule: Schedule | None = getattr(job, "schedule", None)
        if schedule is None or not job.enabled:
            return None
        runs = schedule.next_runs(self.now(), 1, self._tz)
        return runs[0] if runs else None

    def pending_retry(self, name: str) -> datetime | None:
        """When the job's pending retry is due, if one is."""
        with self._lock:
            retry = self._retries.get(name)
            return retry.due if retry else None

    def seconds_until_next(self) -> float | None:
        """How long nothing is due: until the nearest scheduled run or pending
        retry (0 when one is due already), None when nothing is scheduled."""
        now = self.now()
        with self._lock:
            since = self._last_tick if self._last_tick is not None else now
            nearest = [r.due for r in self._retries.values() if not r.waiting]
        for job in self._host.scheduled_jobs():
            if job.schedule is not None and job.enabled:
                runs = job.schedule.next_runs(since, 1, self._tz)
                nearest.extend(runs)
        if not nearest:
            return None
        return max(0.0, (min(nearest) - now).total_seconds())

    # -- the work --------------------------------------------------------------
    def tick(self) -> list[str]:
        """Start whatever is due now; returns the names of the jobs started."""
        with self._tick_lock:
            now = self.now()
            with self._lock:
                last = self._last_tick
                first = last is None
                if last is None:
                    # The last tick of the previous server process, if any.
                    persisted = self._load_last_tick()
                    since = now if persisted is None else min(persisted, now)
                else:
                    since = last
            started: list[str] = []
            try:
                jobs = self._host.scheduled_jobs()
            except Exception:
                self._log.exception("Could not read the scheduled jobs")
                jobs = []
            for job in jobs:
                try:
                    self._tick_job(job, since, now, first, started)
                except Exception:
                    self._log.exception("Scheduling job '%s' failed", job.name)
            self._tick_retries({j.name: j for j in jobs}, now, started)
            with self._lock:
                self._last_tick = max(since, now)
                self._save_last_tick(self._last_tick)
            return started

    def session_finished(self, job: str, session_id: str, failed: bool,
                         scheduled: bool) -> None:
        """A session of ``job`` ended. A scheduled or retry run that left
        failed computers is retried while retries remain; a successful one
        ends the retries. Manual runs change nothing."""
        if not scheduled:
            return
        if not failed:
            self._reset(job)
            return
        definition = next((j for j in self._host.scheduled_jobs() if j.name == job), None)
        schedule = definition.schedule if definition is not None else None
        if definition is None or schedule is None or not definition.enabled:
            self._reset(job)
            return
        with self._lock:
            done = self._attempts.get(job, 0)
            if done >= schedule.retries:
                self._retries.pop(job, None)
                self._attempts.pop(job, None)
                give_up = True
            else:
                due = self.now() + timedelta(minutes=schedule.retry_wait_minutes)
                self._retries[job] = _Retry(due=due, attempt=done + 1)
                give_up = False
        if give_up:
            if schedule.retries:
                self._log.warning("Job '%s' failed again after %d retries; it runs next at its "
                                  "scheduled time", job, schedule.retries)
        else:
            self._log.info("Job '%s' failed (session %s); retry %d of %d at %s", job,
                           session_id, done + 1, schedule.retries,
                           format_local(due, self._tz, with_date=False))

    def run(self, stop: threading.Event, wake: threading.Event) -> None:
        """The loop: tick, then wait on ``wake`` until the next run is due
        (at most a minute) or ``stop`` is set."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception:
                self._log.exception("Scheduler tick failed")
            try:
                delay = self.seconds_until_next()
            except Exception:
                self._log.exception("Scheduler could not compute the next run")
                delay = None
            timeout = MAX_SLEEP_S if delay is None else min(max(delay, 0.0), MAX_SLEEP_S)
            deadline = _time.monotonic() + timeout
            # Short slices so a stop without a wake still ends the loop soon.
            while not stop.is_set():
                remaining = deadline - _time.monotonic()
                if remaining <= 0 or wake.wait(min(remaining, 1.0)):
                    break
            wake.clear()

    # -- internals -------------------------------------------------------------
    def _tick_job(self, job: JobDefinition, since: datetime, now: datetime, first: bool,
                  started: list[str]) -> None:
        schedule: Schedule | None = job.schedule
        if schedule is None:
            return
        if not job.enabled:
            self._reset(job.name)
            return
        passed = schedule.occurrences_between(since, now, self._tz)
        if first:
            # Before the first tick the server was not running: only a run due
            # exactly now is started; the others are missed.
            missed = [t for t in passed if t < now]
            passed = [t for t in passed if t >= now]
            if missed:
                self._log_missed(job.name, schedule, missed, now)
        if not passed:
            return
        at = passed[-1]
        hhmm = format_local(at, self._tz, with_date=False)
        if len(passed) > 1:
            self._log.warning("Job '%s' had %d scheduled runs since %s (the scheduler was "
                              "paused); it runs once now", job.name, len(passed),
                              format_local(passed[0], self._tz))
        if schedule.window is not None and not schedule.window.contains(now, self._tz):
            self._log.warning("The scheduled run of job '%s' at %s was skipped: the backup "
                              "window %s is closed", job.name, hhmm, schedule.window.describe())
            return
        if self._host.is_running(job.name):
            self._log.warning("Job '%s' is still running; the scheduled run at %s was skipped",
                              job.name, hhmm)
            return
        self._reset(job.name)   # a scheduled run starts a new series of retries
        try:
            session_id = self._host.start_scheduled(job.name, retry=False)
        except Exception as exc:
            self._log.error("Could not start job '%s' at its scheduled time %s: %s",
                            job.name, hhmm, exc)
            return
        started.append(job.name)
        self._log.info("Started job '%s' as scheduled at %s (session %s)",
                       job.name, hhmm, session_id)

    def _tick_retries(self, jobs: dict[str, JobDefinition], now: datetime,
                      started: list[str]) -> None:
        with self._lock:
            due = [(name, r) for name, r in self._retries.items() if r.due <= now]
        for name, retry in due:
            try:
                self._retry(jobs.get(name), name, retry, now, started)
            except Exception:
                self._log.exception("Retrying job '%s' failed", name)

    def _retry(self, job: JobDefinition | None, name: str, retry: _Retry, now: datetime,
               started: list[str]) -> None:
        schedule = job.schedule if job is not None else None
        if job is None or schedule is None or not job.enabled or name in started:
            self._reset(name)
            return
        if self._host.is_running(name):
            retry.waiting = True   # retried when the job is idle again
            return
        if schedule.window is not None and not schedule.window.contains(now, self._tz):
            self._reset(name)
            self._log.warning("Retry %d of job '%s' was skipped: the backup window %s is "
                              "closed", retry.attempt, name, schedule.window.describe())
            return
        computers = self._host.retry_candidates(name)
        if not computers:
            self._reset(name)
            self._log.info("Job '%s': no failed computer is left to retry", name)
            return
        with self._lock:
            if self._retries.get(name) is not retry:   # superseded meanwhile
                return
            del self._retries[name]
            self._attempts[name] = retry.attempt
        try:
            session_id = self._host.start_scheduled(name, retry=True)
        except Exception as exc:
            self._log.error("Could not start retry %d of job '%s': %s", retry.attempt, name, exc)
            return
        started.append(name)
        self._log.info("Retry %d of %d of job '%s' started for %s (session %s)",
                       retry.attempt, schedule.retries, name, ", ".join(computers), session_id)

    def _reset(self, name: str) -> None:
        with self._lock:
            self._retries.pop(name, None)
            self._attempts.pop(name, None)

    def _log_missed(self, name: str, schedule: Schedule, missed: list[datetime],
                    now: datetime) -> None:
        following = schedule.next_runs(now, 1, self._tz)
        next_text = format_local(following[0], self._tz) if following else "not scheduled"
        for moment in missed[:MISSED_LOG_CAP]:
            self._log.warning(
                "Missed scheduled run of job '%s' at %s: the backup server was not running. "
                "It is not run now; the next run is at %s",
                name, format_local(moment, self._tz), next_text)
        more = len(missed) - MISSED_LOG_CAP
        if more > 0:
            at_least = "at least " if len(missed) >= 100 else ""
            self._log.warning("Job '%s' missed %s%d more scheduled runs while the backup "
                              "server was not running", name, at_least, more)

    def _load_last_tick(self) -> datetime | None:
        try:
            text = self._state.get_state(STATE_KEY)
        except Exception:
            self._log.exception("Could not read the scheduler's last tick")
            return None
        if not text:
            return None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self._log.warning("Ignoring an unreadable last scheduler tick %r", text)
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)

    def _save_last_tick(self, moment: datetime) -> None:
        try:
            self._state.set_state(STATE_KEY, moment.isoformat())
        except Exception:
            self._log.exception("Could not save the scheduler's last tick")
