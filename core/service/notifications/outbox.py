"""The outbox: one background thread sends queued messages, so a slow or
dead mail server never delays or fails a session. Failed sends are logged
and counted; the server's status shows the counts and the last error."""
from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from core.models import NotificationSettings, utcnow
from core.service.notifications.compose import Message
from core.service.notifications.delivery import Outcome, deliver

log = logging.getLogger(__name__)

MAX_QUEUED = 1000   # past this, new messages are dropped (and counted as failed)

Settings = Callable[[], tuple[NotificationSettings, str | None]]


class Outbox:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings          # the settings and SMTP password at send time
        self._queue: queue.Queue[Message | Callable[[], Message] | None] = \
            queue.Queue(MAX_QUEUED)
        self._cond = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failed = 0
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.last_sent_at: datetime | None = None

    def put(self, message: Message | Callable[[], Message]) -> None:
        """Queue ``message`` (or what composes it in the outbox's thread: the
        summary measures repositories); returns at once."""
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="notifications",
                                                daemon=True)
                self._thread.start()
            try:
                self._queue.put_nowait(message)
            except queue.Full:
                self._failure(f"a notification was not sent: {MAX_QUEUED} notifications "
                              "are waiting already")
                return
            self._pending += 1

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Until every queued message was tried (tests, and a clean stop)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Let the thread end after what is queued (waiting ``timeout`` at most:
        a hung mail server must not hold the server's exit)."""
        with self._cond:
            thread = self._thread
        if thread is None:
            return
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            return
        thread.join(timeout)

    def status(self) -> dict[str, Any]:
        with self._cond:
            return {"sent": self.sent, "failed": self.failed, "queued": self._pending,
                    "last_error": self.last_error,
                    "last_error_at": self.last_error_at.isoformat() if self.last_error_at
                    else None,
                    "last_sent_at": self.last_sent_at.isoformat() if self.last_sent_at
                    else None}

    def _failure(self, text: str) -> None:
        log.warning("notification not sent: %s", text)
        self.failed += 1
        self.last_error, self.last_error_at = text, utcnow()

    def _run(self) -> None:
        while True:
            message = self._queue.get()
            if message is None:
                return
            subject = "a notification"
            try:
                if not isinstance(message, Message):
                    message = message()
                subject = f"'{message.subject}'"
                settings, password = self._settings()
                outcomes = deliver(settings, password, message)
            except Exception as exc:
                log.exception("sending a notification failed")
                outcomes = [Outcome("notifications", False, f"{exc.__class__.__name__}: {exc}")]
            with self._cond:
                for outcome in outcomes:
                    if outcome.ok:
                        self.sent += 1
                        self.last_sent_at = utcnow()
                    else:
                        self._failure(f"{subject}: {outcome.error}")
                self._pending -= 1
                self._cond.notify_all()
