"""Job definitions."""
from __future__ import annotations

from datetime import datetime

from core.errors import AlreadyExists, NotFound
from core.models import JobDefinition, utcnow

from core.catalogue.db import CatalogueDB, _dt, _ts


class JobsMixin(CatalogueDB):
    def add_job(self, definition: JobDefinition) -> None:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM jobs WHERE name=?", (definition.name,)).fetchone():
                raise AlreadyExists(
                    f"A job named '{definition.name}' already exists. Choose another name."
                )
            db.execute("INSERT INTO jobs(name, definition, created) VALUES (?,?,?)",
                       (definition.name, definition.model_dump_json(), _ts(utcnow())))

    def replace_job(self, name: str, definition: JobDefinition) -> None:
        with self._tx() as db:
            if not db.execute("SELECT 1 FROM jobs WHERE name=?", (name,)).fetchone():
                raise NotFound(f"No job named '{name}'.")
            if definition.name.lower() != name.lower() and db.execute(
                    "SELECT 1 FROM jobs WHERE name=?", (definition.name,)).fetchone():
                raise AlreadyExists(
                    f"A job named '{definition.name}' already exists. Choose another name.")
            db.execute("UPDATE jobs SET name=?, definition=? WHERE name=?",
                       (definition.name, definition.model_dump_json(), name))
            if definition.name != name:
                for table in ("sessions", "points"):
                    db.execute(f"UPDATE {table} SET job=? WHERE job=?", (definition.name, name))

    def delete_job(self, name: str) -> None:
        with self._tx() as db:
            if db.execute("DELETE FROM jobs WHERE name=?", (name,)).rowcount == 0:
                raise NotFound(f"No job named '{name}'. Run 'job list' to see the jobs.")
            ids = [r[0] for r in db.execute("SELECT id FROM sessions WHERE job=?", (name,))]
            db.executemany("DELETE FROM tasks WHERE session_id=?", [(i,) for i in ids])
            db.execute("DELETE FROM sessions WHERE job=?", (name,))

    def jobs(self) -> list[JobDefinition]:
        rows = self._conn().execute("SELECT definition FROM jobs ORDER BY name").fetchall()
        return [JobDefinition.model_validate_json(r[0]) for r in rows]

    def job(self, name: str) -> JobDefinition:
        row = self._conn().execute("SELECT definition FROM jobs WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"No job named '{name}'. Run 'job list' to see the jobs.")
        return JobDefinition.model_validate_json(row[0])

    def job_created(self, name: str) -> datetime | None:
        """When the job was created (None: no such job)."""
        row = self._conn().execute("SELECT created FROM jobs WHERE name=?", (name,)).fetchone()
        return None if row is None else _dt(row[0])
