"""The catalogue: jobs, sessions, tasks and restore points in SQLite (WAL).

Only the backup server writes it (the one process that owns the data
directory). Each thread gets its own connection. The repository stays the
source of truth for restore points; the catalogue indexes them. The schema is
brought up to date on open by the numbered migrations in ``migrations``.

Modules: ``db`` (connections, transactions, migrating on open),
``migrations``, and one mixin per table group: ``jobs``, ``sessions``,
``points``, ``repositories``, ``metrics``, ``home`` (what Home → Overview counts), ``audit`` (the audit trail), ``users`` (named users), ``paused``
(paused sessions' progress).
``Catalogue`` combines them and is the one public object.
"""
from __future__ import annotations

from core.catalogue.audit import AuditMixin
from core.catalogue.db import CatalogueDB
from core.catalogue.errors import guard_public_methods
from core.catalogue.home import HomeMixin
from core.catalogue.jobs import JobsMixin
from core.catalogue.metrics import JobMetrics, MetricsMixin
from core.catalogue.overview import JobRow, LatestSession, OverviewMixin
from core.catalogue.paused import PausedMixin, PausedTask
from core.catalogue.points import PointsMixin
from core.catalogue.repositories import RepositoriesMixin, RepositoryRecord
from core.catalogue.sessions import HOST, SessionsMixin
from core.catalogue.users import UserRecord, UsersMixin

__all__ = ["Catalogue", "HOST", "JobMetrics", "JobRow", "LatestSession", "PausedTask",
           "RepositoryRecord", "UserRecord"]


@guard_public_methods
class Catalogue(UsersMixin, AuditMixin, JobsMixin, HomeMixin, OverviewMixin, MetricsMixin,
                SessionsMixin, PointsMixin, PausedMixin, RepositoriesMixin, CatalogueDB):
    # -- server state (persisted key/value, e.g. the scheduler's last tick) --
    def get_state(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM server_state WHERE key=?",
                                   (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO server_state(key, value) VALUES (?,?) "
                       "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))
