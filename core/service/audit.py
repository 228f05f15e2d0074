"""The audit trail's desk: who did what, recorded around every change and action.

Who is asking travels with the request in a context variable: the server's
actor middleware (:mod:`core.server.actor`) puts a fresh :class:`Actor` there
for each request, and whatever authenticates the request names its user on
that same object (:func:`identify`); in-process callers (tests, the scheduler)
act as :data:`LOCAL` or :data:`SCHEDULER`. :meth:`AuditTrail.action` wraps one
facade call: it records the action when it ends, with "done" or the message it
was refused with, and re-raises.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.api import BulkResult
from core.catalogue import Catalogue
from core.errors import ConsoleError
from core.models import AuditCheck, AuditEntry


@dataclass
class Actor:
    """Who is asking and from where. Mutable so that authentication, which may run
    in another context copy than the call it guards, can name the user."""

    user: str
    origin: str


LOCAL = Actor("local", "this machine")
SCHEDULER = Actor("scheduler", "scheduler")
_current: ContextVar[Actor] = ContextVar("audit_actor", default=LOCAL)


def current_actor() -> Actor:
    return _current.get()


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def who_is_asking() -> str:
    """How a session's log names who started or stopped it: "user" for the server's
    own Unix user (a single-machine install), else the user's name."""
    actor = _current.get()
    return "user" if actor.user == LOCAL.user else actor.user


def identify(user: str) -> None:
    """Name the user of the request being served (called by authentication)."""
    actor = _current.get()
    if actor is not LOCAL and actor is not SCHEDULER:
        actor.user = user


class AuditTrail:
    def __init__(self, catalogue: Catalogue, clock: Callable[[], datetime]) -> None:
        self._catalogue = catalogue
        self._clock = clock

    def record(self, action: str, target: str = "", result: str = "done",
               **details: Any) -> None:
        """One entry; details given as None are left out."""
        actor = current_actor()
        self._catalogue.append_audit(self._clock(), actor.user, actor.origin, action, target,
                                     {k: v for k, v in details.items() if v is not None},
                                     result)

    def record_each(self, action: str, outcome: BulkResult, names: list[str],
                    **details: Any) -> None:
        """One entry per job of a start or stop of several: done (with its session),
        or refused with the job's own message."""
        for name in names:
            refused = outcome.errors.get(name)
            self.record(action, name, f"refused: {refused}" if refused else "done",
                        session=outcome.sessions.get(name), **details)

    @contextmanager
    def action(self, action: str, target: str = "", **details: Any) -> Iterator[dict[str, Any]]:
        """Record ``action`` once the wrapped call ends; the caller may add details
        (an ``after``, a session id) to the yielded dict."""
        found: dict[str, Any] = dict(details)
        try:
            yield found
        except ConsoleError as refused:
            self.record(action, target, result=f"refused: {refused}", **found)
            raise
        except BaseException as failed:
            self.record(action, target, result=f"failed: {failed.__class__.__name__}",
                        **found)
            raise
        self.record(action, target, **found)

    def entries(self, since: datetime | None = None, user: str | None = None,
                limit: int = 1000) -> list[AuditEntry]:
        return self._catalogue.audit_entries(since=since, user=user, limit=limit)

    def check(self) -> AuditCheck:
        return self._catalogue.check_audit()
