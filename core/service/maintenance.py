"""The maintenance desk: the server-wide maintenance window and its sessions.

With a window set (``agent-jobs maintenance set --window 01:00-05:00``),
backup sessions no longer prune after retention: once per opening of the
window, when no backup, restore or verify runs, a Maintenance session prunes
every repository (deletes packs no point uses, repacks packs whose live share
fell below half, merges small packs). The window's close cancels the session
like a backup window stops a backup: the pack in progress is finished, what
was repacked is committed, nothing more starts. Without a window, backups
reclaim space at their end, as they always did.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime
from functools import partial
from pathlib import Path

from core.api import size_text
from core.engine.hooks import NO_HOOKS, EngineHooks
from core.engine.operations import OperationRunner
from core.engine.session import new_session_id
from core.errors import ConsoleError, InvalidInput
from core.events import SessionChanged
from core.models import (
    MaintenanceSettings, RunKind, SessionInfo, SessionResult, SessionState, SessionType,
    TaskInfo, TaskStatus, utcnow,
)
from core.service.context import ServiceContext, os_reason

log = logging.getLogger(__name__)

SETTINGS_KEY = "maintenance.settings"
LAST_KEY = "maintenance.last_close"   # the close of the window opening last maintained
CLOSED_BY = "by the maintenance window closing"


class Maintenance:
    def __init__(self, ctx: ServiceContext, hooks: EngineHooks = NO_HOOKS) -> None:
        self._ctx = ctx
        self._hooks = hooks   # tests hold a repository between two packs
        self._running: str | None = None   # the Maintenance session's id while it runs

    # -- settings --------------------------------------------------------------
    def get_maintenance(self) -> MaintenanceSettings:
        text = self._ctx.catalogue.get_state(SETTINGS_KEY)
        if not text:
            return MaintenanceSettings()
        try:
            return MaintenanceSettings.model_validate_json(text)
        except ValueError:
            log.warning("ignoring unreadable maintenance settings %r", text)
            return MaintenanceSettings()

    def set_maintenance(self, settings: MaintenanceSettings) -> MaintenanceSettings:
        if settings.window is not None and settings.window.terminate:
            raise InvalidInput("The maintenance window always stops maintenance when it "
                               "closes: leave out 'terminate'.")
        self._ctx.catalogue.set_state(SETTINGS_KEY, settings.model_dump_json())
        self._ctx.scheduler_wake.set()
        return settings

    def window_text(self) -> str | None:
        """The window in words while one is set (backups then leave pruning to it)."""
        window = self.get_maintenance().window
        return window.describe() if window is not None else None

    # -- the work --------------------------------------------------------------
    def tick(self) -> str | None:
        """Start the Maintenance session if the window is open, this opening
        was not maintained yet and nothing else runs; its id, else None."""
        window = self.get_maintenance().window
        if window is None or self._running is not None:
            return None
        now = self._ctx.clock()
        tz = self._ctx.scheduler.tz
        closes = window.next_close(now, tz)
        if closes is None:
            return None
        if self._ctx.catalogue.get_state(LAST_KEY) == closes.isoformat():
            return None
        if self._ctx.running_jobs() or self._ctx.operations_running():
            return None   # started once they are done, still inside the window
        self._ctx.catalogue.set_state(LAST_KEY, closes.isoformat())
        return self._start(closes, window.describe())

    def _start(self, closes: datetime, window: str) -> str:
        entries = [e for e in self._ctx.registry.entries()
                   if not (e.default and not Path(e.location).exists())]
        session = SessionInfo(
            id=new_session_id(), job="", type=SessionType.MAINTENANCE,
            state=SessionState.STARTING, created=utcnow(), run_kind=RunKind.SCHEDULED,
            tasks=[TaskInfo(computer=e.name) for e in entries])

        def work(run: OperationRunner) -> SessionResult:
            run.note(f"Maintenance started by the maintenance window ({window}): prune and "
                     "compact every repository")
            result = SessionResult.SUCCESS
            for index, entry in enumerate(entries):
                if run.cancelled():
                    run.set_task(index, status=TaskStatus.SKIPPED, ended=utcnow())
                    run.task_note(index, "Skipped: the maintenance window closed", "warning")
                    continue
                run.set_task(index, started=utcnow())
                steps = [0]

                def stop(name: str = entry.name, steps: list[int] = steps) -> bool:
                    """Between two packs: the window closed (a test's gate may hold here)."""
                    self._hooks.checkpoint("", name, steps[0], run.cancelled)
                    steps[0] += 1
                    return run.cancelled()

                try:
                    report = self._ctx.pool.repository(entry.name).prune(cancel=stop)
                except (ConsoleError, OSError) as exc:
                    why = str(exc) if isinstance(exc, ConsoleError) else os_reason(exc)
                    run.task_note(index, f"Not maintained: {why}", "error")
                    run.set_task(index, status=TaskStatus.FAILED, ended=utcnow())
                    result = SessionResult.FAILED
                    continue
                if report.skipped:
                    run.task_note(index, report.reason, "warning")
                    run.set_task(index, status=TaskStatus.WARNING, ended=utcnow())
                    result = SessionResult.WARNING if result is SessionResult.SUCCESS \
                        else result
                    continue
                freed = max(0, report.bytes_freed)
                run.task_note(index, (
                    f"Reclaimed {size_text(freed)}: {report.packs_deleted} unused pack(s) "
                    f"deleted, {report.packs_repacked} pack(s) compacted into "
                    f"{report.packs_written}")
                    + (" (stopped by the window closing)" if report.stopped else ""))
                for problem in report.problems:
                    run.task_note(index, problem, "warning")
                run.set_task(index, bytes_processed=freed, ended=utcnow(),
                             status=TaskStatus.CANCELLED if report.stopped else
                             TaskStatus.WARNING if report.problems else TaskStatus.SUCCESS)
                run.progress(index + 1, len(entries))
            run.note("Maintenance finished.")
            return result

        self._ctx.catalogue.create_session(session, owner_pid=os.getpid())
        runner = OperationRunner(self._ctx.catalogue, self._ctx.events, session, work,
                                 on_finished=self._finished)
        with self._ctx.runners_lock:
            self._ctx.operations[session.id] = runner
        self._running = session.id
        self._ctx.deadlines.set(f"maintenance:{session.id}", closes,
                                partial(runner.cancel, by=CLOSED_BY))
        self._ctx.scheduler_wake.set()
        runner.start()
        self._ctx.events.publish(SessionChanged("", session.id))
        return session.id

    def _finished(self, runner: OperationRunner) -> None:
        self._ctx.deadlines.cancel(f"maintenance:{runner.session.id}")
        with self._ctx.runners_lock:
            self._ctx.operations.pop(runner.session.id, None)
        self._running = None
