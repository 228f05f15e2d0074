"""The repositories desk: the backup infrastructure's repositories.

It owns the list of repositories with their jobs, space and problems (a
stored password that does not open one is checked once per password), adding
a repository (checking its URL, password and S3 keys, creating it when its
location is empty), testing one before adding it, removing one from the list,
and an encrypted repository's keys, the server's password and S3 keys.
Opening and holding repositories open is the pool's (:mod:`core.service.pool`).
"""
from __future__ import annotations

import logging

from pydantic import SecretStr

from core.api import RepositoryInfo, RepositoryKeyInfo, RepositorySpec
from core.api.reports import RetainedPointInfo
from core.errors import AlreadyExists, ConsoleError, InvalidInput, JobStateError, RepositoryError
from core.events import CatalogueChanged, PointsChanged
from core.models import JobDefinition
from core.repository import Repository
from core.repository.crypto import MasterKey
from core.repository.immutability import NEEDS_OBJECT_STORAGE
from core.repository.keys import DamagedKey, WrongPassword, add_key, list_keys, remove_key
from core.service.context import ServiceContext, os_reason
from core.service.registry import (
    DEFAULT_REPOSITORY, S3_TIMEOUT_S, Entry as RepoEntry, Location, Measure, S3Keys,
    check_name, close_repository, exclusive_lock, is_default, measure, measure_all,
    open_repository, parse_url, probe_empty_folder, repository_exists, s3_backend,
    spec_s3_keys, unlock_with,
)

log = logging.getLogger(__name__)


class Repositories:
    """Registered repositories, their keys, passwords and S3 keys."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._pool = ctx.pool
        # repository id -> (the stored password checked, why it does not open it)
        self._password_checks: dict[str, tuple[str | None, str | None]] = {}

    def list_repositories(self) -> list[RepositoryInfo]:
        """Every repository with its jobs and space; one that cannot be reached
        within a few seconds says why in ``problem``."""
        entries = self._ctx.registry.entries()
        backends = self._pool.s3_backends()
        measured = measure_all(entries, self._ctx.registry.s3_keys, backends=backends)
        for entry in entries:
            found = measured[entry.id]
            if entry.encrypted and (found is None or found.problem is None):
                problem = self._password_problem(entry)
                if problem is not None:
                    measured[entry.id] = Measure(
                        used=found.used if found else None,
                        capacity=found.capacity if found else None,
                        free=found.free if found else None, problem=problem)
        jobs = self._ctx.catalogue.jobs()
        return [self._repository_info(e, measured[e.id], jobs) for e in entries]

    def _password_problem(self, entry: RepoEntry) -> str | None:
        """Why the stored password does not open the repository; checked once
        per stored password (a key derivation costs a tenth of a second)."""
        password = self._ctx.registry.secrets.password(entry.id)
        checked = self._password_checks.get(entry.id)
        if checked is not None and checked[0] == password:
            return checked[1]
        try:
            problem = self._ctx.registry.password_problem(entry, timeout=S3_TIMEOUT_S)
        except DamagedKey as damaged:
            return str(damaged)   # not the password's fault; checked again next time
        except (OSError, ConsoleError):
            return None   # unreachable or damaged: checked again next time
        self._password_checks[entry.id] = (password, problem)
        return problem

    def _repository_info(self, entry: RepoEntry, found: Measure | None,
                         jobs: list[JobDefinition] | None = None) -> RepositoryInfo:
        users = [j.name for j in (self._ctx.catalogue.jobs() if jobs is None else jobs)
                 if self._same_repository(j.repository, entry)]
        found = found or Measure()
        days, retained = self._immutability(entry, reachable=found.problem is None)
        return RepositoryInfo(name=entry.name, kind=entry.kind, location=entry.location,
                              encrypted=entry.encrypted, default=entry.default, jobs=users,
                              used_bytes=found.used, capacity_bytes=found.capacity,
                              free_bytes=found.free, problem=found.problem,
                              immutable_days=days, retained_points=retained)

    def _immutability(self, entry: RepoEntry, *, reachable: bool = True
                      ) -> tuple[int | None, list[RetainedPointInfo]]:
        """The lock days of an immutable repository and the points it keeps,
        without opening it: the days as the catalogue recorded them when it was
        added (or last opened), the kept points from the repository when it is
        open already (its list of retired objects is read once and kept
        current by this server's own forgets and prunes)."""
        repo = self._pool.opened(entry.id)
        days = entry.immutable_days or None
        if repo is not None:
            days = repo.immutable_days
        if days is None or repo is None:
            return days, []
        try:
            kept = repo.retained_points()
        except RepositoryError as exc:
            log.warning("%s", exc)
            kept = []
        return days, [
            RetainedPointInfo(id=p.id, job=p.job, computer=p.computer, created=p.created,
                              type=p.type, locked_until=p.until) for p in kept]

    @staticmethod
    def _same_repository(name: str, entry: RepoEntry) -> bool:
        return is_default(name) if entry.default else name.strip().lower() == entry.name.lower()

    def add_repository(self, spec: RepositorySpec) -> RepositoryInfo:
        """Register a repository, creating it when its location is empty; one
        that exists must open with the password given. Nothing is recorded
        unless it opens."""
        name = check_name(spec.name)
        if any(e.name.lower() == name.lower() for e in self._ctx.registry.entries()):
            raise AlreadyExists(f"A backup repository named '{name}' already exists. Choose "
                                "another name.")
        where, password, keys = self._checked_spec(spec)
        try:
            repo = open_repository(where.kind, where.location, password=password, s3=keys,
                                   create=True, timeout=S3_TIMEOUT_S,
                                   immutable_days=spec.immutable_days)
        except OSError as exc:
            raise RepositoryError(os_reason(exc)) from None
        try:
            encrypted = repo.encrypted
            if password is not None and not encrypted:
                raise InvalidInput(f"The repository at {where.location} exists and is not "
                                   "encrypted: add it without a password.")
            entry = self._ctx.registry.record(name, where, encrypted, password, keys,
                                              repo.immutable_days)
        except BaseException:
            close_repository(repo)
            raise
        self._pool.adopt(entry.id, repo)
        self._pool.reconcile_repository(entry, repo)   # an existing repository's points
        self._ctx.events.publish(CatalogueChanged())
        log.info("repository %r added: %s %s (%s)", entry.name, entry.kind, entry.location,
                 "encrypted" if encrypted else "not encrypted")
        return self._repository_info(entry, measure(entry, keys))

    def _checked_spec(self, spec: RepositorySpec) -> tuple[Location, str | None, S3Keys | None]:
        where = parse_url(spec.url)
        if where.path is not None:
            home = self._ctx.data_dir.resolve()
            path = where.path.resolve()
            if path == home or path in home.parents:
                raise InvalidInput(f"A repository cannot hold the data directory {home}: "
                                   "choose another folder.")
        new = where.location.rstrip("/")
        for entry in self._ctx.registry.entries():
            old = entry.location.rstrip("/")
            if old == new:
                raise AlreadyExists(f"{where.location} is already the backup repository "
                                    f"'{entry.name}'.")
            if new.startswith(old + "/") or old.startswith(new + "/"):
                inside = "is inside" if new.startswith(old + "/") else "contains"
                raise InvalidInput(f"{where.location} {inside} the backup repository "
                                   f"'{entry.name}' ({entry.location}): repositories cannot "
                                   "be nested. Choose a location outside it.")
        password = spec.password.get_secret_value() if spec.password is not None else None
        if password is not None and not password:
            raise InvalidInput("The repository password is empty: give a password, or none "
                               "for a repository without encryption.")
        if password is not None and spec.insecure_no_encryption:
            raise InvalidInput("A password and --insecure-no-encryption were both given: "
                               "choose one.")
        if where.kind == "s3" and password is None and not spec.insecure_no_encryption:
            raise InvalidInput(f"An S3 repository ({where.location}) is encrypted: give a "
                               "password (--password-file), or --insecure-no-encryption to "
                               "store backups unencrypted.")
        if spec.immutable_days is not None and where.kind != "s3":
            raise InvalidInput(f"{NEEDS_OBJECT_STORAGE}: {where.location} is a local folder. "
                               "Add the repository in an S3 bucket that has Object Lock "
                               "enabled, or without --immutable-days.")
        keys = spec_s3_keys(spec.access_key_id, spec.secret_access_key)
        if keys is not None and where.kind != "s3":
            raise InvalidInput("S3 keys were given for a local folder: they are only for "
                               "s3: URLs.")
        return where, password, keys

    def test_repository(self, spec: RepositorySpec) -> str:
        """What ``add_repository`` would find there, in a sentence; raises when
        it would be refused. Creates nothing."""
        where, password, keys = self._checked_spec(spec)
        try:
            exists = repository_exists(where.kind, where.location, keys, timeout=S3_TIMEOUT_S)
            if not exists:
                if where.path is not None:
                    probe_empty_folder(where.path)
                what = "encrypted" if password is not None else "unencrypted"
                if spec.immutable_days is not None:
                    backend = s3_backend(where.location, keys, timeout=S3_TIMEOUT_S)
                    try:
                        backend.enable_object_lock(spec.immutable_days)
                    finally:
                        backend.close()
                    what += f", immutable for {spec.immutable_days} day(s),"
                return f"Reachable; empty — a new {what} repository will be created"
            repo = open_repository(where.kind, where.location, password=password, s3=keys,
                                   timeout=S3_TIMEOUT_S)
        except OSError as exc:
            raise RepositoryError(os_reason(exc)) from None
        try:
            encrypted = repo.encrypted
            points = len(repo.point_ids())
        finally:
            close_repository(repo)
        held = f"; it holds {points} restore point(s)"
        if encrypted:
            return "Existing repository, encrypted, the password opens it" + held
        if password is not None:
            raise InvalidInput(f"The repository at {where.location} exists and is not "
                               "encrypted: add it without a password.")
        return "Existing repository, not encrypted" + held

    def remove_repository(self, name: str) -> int:
        """Forget a repository (and the secrets kept for it); a repository jobs
        use is kept. Its data stays where it is: its restore points are no
        longer listed, and are again once it is added back. Returns how many
        points were forgotten."""
        entry = self._ctx.registry.entry(name)
        if entry.default:
            raise InvalidInput(f"'{DEFAULT_REPOSITORY}' is the data directory's own "
                               "repository: it cannot be removed.")
        users = [j.name for j in self._ctx.catalogue.jobs()
                 if self._same_repository(j.repository, entry)]
        if users:
            raise JobStateError(f"Backup repository '{entry.name}' is used by job(s) "
                                f"{', '.join(users)}: point them to another repository "
                                "first.")
        if self._ctx.operations_running():
            raise JobStateError("A restore or verify session is running: remove the "
                                f"repository '{entry.name}' once it has ended.")
        points = [p for p in self._ctx.catalogue.points()
                  if self._same_repository(p.repository, entry)]
        repo = self._pool.take(entry.id)
        if repo is not None:
            close_repository(repo)
        self._ctx.registry.forget(entry)
        ids = [p.id for p in points]
        if ids:
            self._ctx.catalogue.remove_points(ids)
            self._ctx.trees.forget(ids)
            for job in sorted({p.job for p in points}):
                self._ctx.events.publish(PointsChanged(job))
        self._ctx.events.publish(CatalogueChanged())
        log.info("repository %r removed from the list (%d restore point(s) no longer listed); "
                 "its data at %s was kept", entry.name, len(ids), entry.location)
        return len(ids)

    def _keys_of(self, name: str) -> tuple[RepoEntry, Repository]:
        entry = self._ctx.registry.entry(name)
        repo = self._pool.repository(entry.name)
        if not repo.encrypted:
            raise InvalidInput(f"Backup repository '{entry.name}' is not encrypted: it has no "
                               "passwords (keys).")
        return entry, repo

    def list_repository_keys(self, name: str) -> list[RepositoryKeyInfo]:
        _entry, repo = self._keys_of(name)
        return [RepositoryKeyInfo(id=k.id, created=k.created, current=k.id == repo.key_id,
                                  damaged=k.damaged)
                for k in list_keys(repo.backend)]

    def add_repository_key(self, name: str, password: SecretStr) -> str:
        """Another password for an encrypted repository; returns its key id."""
        entry, repo = self._keys_of(name)
        secret = password.get_secret_value()
        if not secret:
            raise InvalidInput("The new password is empty: give a password.")
        with exclusive_lock(repo, entry.name):
            key_id = add_key(repo.backend, _master_key(repo), secret)
        log.info("repository %r: key %s added", entry.name, key_id)
        return key_id

    def remove_repository_key(self, name: str, key_id: str) -> None:
        entry, repo = self._keys_of(name)
        with exclusive_lock(repo, entry.name):
            remove_key(repo.backend, key_id.strip(), current_id=repo.key_id or "")
        log.info("repository %r: key %s removed", entry.name, key_id)

    def set_repository_password(self, name: str, password: SecretStr) -> None:
        """Keep ``password`` as the server's password of an encrypted
        repository, once it is checked to open it; a wrong one changes nothing."""
        entry = self._encrypted_entry(name)
        secret = password.get_secret_value()
        if not secret:
            raise InvalidInput("The password is empty: give the repository's password.")
        try:
            key_id = unlock_with(entry.kind, entry.location, secret,
                                 self._ctx.registry.s3_keys(entry), timeout=S3_TIMEOUT_S)
        except WrongPassword:
            raise WrongPassword(f"The password does not open backup repository "
                                f"'{entry.name}': nothing was changed.") from None
        except OSError as exc:
            raise RepositoryError(os_reason(exc)) from None
        self._ctx.registry.secrets.set_password(entry.id, secret)
        repo = self._pool.opened(entry.id)
        if repo is not None:
            repo.key_id = key_id
        log.info("repository %r: the server's password was replaced (key %s)", entry.name,
                 key_id)

    def change_repository_password(self, name: str, new_password: SecretStr) -> str:
        """restic's ``key passwd``: a new key with the new password, kept as the
        server's password, then the key the server used is removed. Returns
        the new key's id."""
        entry, repo = self._keys_of(name)
        secret = new_password.get_secret_value()
        if not secret:
            raise InvalidInput("The new password is empty: give a password.")
        with exclusive_lock(repo, entry.name):
            old_id = repo.key_id or ""
            key_id = add_key(repo.backend, _master_key(repo), secret)
            self._ctx.registry.secrets.set_password(entry.id, secret)
            repo.key_id = key_id
            if old_id:
                remove_key(repo.backend, old_id, current_id=key_id)
        log.info("repository %r: password changed (key %s replaced by key %s)", entry.name,
                 old_id, key_id)
        return key_id

    def set_repository_s3_keys(self, name: str, access_key_id: str,
                               secret_access_key: SecretStr) -> None:
        """Keep (or replace) the S3 keys of an S3 repository, once they are
        checked to reach its bucket."""
        entry = self._ctx.registry.entry(name)
        if entry.kind != "s3":
            raise InvalidInput(f"Backup repository '{entry.name}' is a local folder: S3 keys "
                               "are only for S3 repositories.")
        keys = spec_s3_keys(access_key_id, secret_access_key)
        assert keys is not None
        try:
            backend = s3_backend(entry.location, keys, timeout=S3_TIMEOUT_S, quick=True)
            backend.close()
        except OSError as exc:
            raise RepositoryError(os_reason(exc)) from None
        self._ctx.registry.secrets.set_s3_keys(entry.id, keys)
        self._password_checks.pop(entry.id, None)
        stale = self._pool.take(entry.id)   # opened again with the new keys when next used
        if stale is not None and not self._ctx.running_jobs() and \
                not self._ctx.operations_running():
            close_repository(stale)   # else a running session finishes with it
        log.info("repository %r: S3 keys replaced", entry.name)

    def _encrypted_entry(self, name: str) -> RepoEntry:
        entry = self._ctx.registry.entry(name)
        if not entry.encrypted:
            raise InvalidInput(f"Backup repository '{entry.name}' is not encrypted: it has no "
                               "password.")
        return entry


def _master_key(repo: Repository) -> MasterKey:
    """The master key of an encrypted repository (``_keys_of`` checked that it is one)."""
    sealer = repo.sealer
    assert isinstance(sealer, MasterKey), "an encrypted repository seals with its master key"
    return sealer
