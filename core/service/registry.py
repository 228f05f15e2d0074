"""The registry of backup repositories: where each is (restic's URL syntax),
its secrets, and opening it.

A repository is named like a job. The data directory's own repository,
"Default Backup Repository", is always there and never removed; the others
are rows of the catalogue. Their secrets (a repository password, S3 keys
given when it was added) live in ``DATA_DIR/secrets/<id>.password`` and
``<id>.s3``, mode 0600 in a 0700 folder, and never leave the server: no
message, log line or API answer carries them.
"""
from __future__ import annotations

import errno
import json
import os
import re
import secrets as _random
import shlex
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypedDict

from pydantic import SecretStr

from core.catalogue import Catalogue, RepositoryRecord
from core.errors import (  # defined there, as every error that crosses the wire
    S3AccessDenied as S3AccessDenied,
)
from core.errors import InvalidInput, JobStateError, NotFound, RepositoryError
from core.models import JOB_NAME_RE, _invisible
from core.paths import default_repository_path, secrets_dir
from core.process.private_files import make_dir
from core.repository import Repository
from core.repository.backend.local import LocalBackend
from core.repository.config import ENCRYPTION_AES
from core.repository.fsio import atomic_write
from core.repository.keys import PasswordRequired, WrongPassword, unlock
from core.repository.layout import CONFIG

DEFAULT_REPOSITORY = "Default Backup Repository"
DEFAULT_ID = "default"
S3_TIMEOUT_S = 3.0        # listing must not hang on an unreachable endpoint
ENV_ACCESS_KEY = "AWS_ACCESS_KEY_ID"
ENV_SECRET_KEY = "AWS_SECRET_ACCESS_KEY"
_CREDENTIALS_IN_URL = re.compile(r"^s3:https?://[^/@]*@", re.IGNORECASE)


# -- names and locations ---------------------------------------------------------
def is_default(name: str) -> bool:
    return name.strip().lower() in (DEFAULT_REPOSITORY.lower(), "default", "")


def check_name(name: str) -> str:
    """A repository name follows the rules of job names."""
    name = name.strip()
    if not JOB_NAME_RE.match(name):
        raise InvalidInput("Invalid repository name: use 1 to 64 printable characters "
                           "without '/' or '\\'.")
    hidden = next((c for c in name if _invisible(c)), None)
    if hidden is not None:
        raise InvalidInput(f"Invalid repository name: it contains the invisible or control "
                           f"character U+{ord(hidden):04X}; use 1 to 64 printable characters "
                           "without '/' or '\\'.")
    if is_default(name):
        raise InvalidInput(f"'{name}' is the data directory's own repository; choose "
                           "another name.")
    return name


@dataclass(frozen=True)
class Location:
    kind: str                   # "local" | "s3"
    location: str               # what is shown and stored: a path or the S3 URL
    path: Path | None = None    # local only


def parse_url(url: str) -> Location:
    """restic's syntax: a folder path, or ``s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX]``."""
    text = (url or "").strip()
    if not text:
        raise InvalidInput("--url needs a repository location: a folder path or "
                           "s3:https://HOST:PORT/BUCKET[/PREFIX].")
    if "\x00" in text:
        raise InvalidInput("A repository location cannot contain a NUL character.")
    if text.lower().startswith("s3:"):
        if _CREDENTIALS_IN_URL.match(text):
            raise InvalidInput("Do not put credentials in the repository URL: give the S3 "
                               "keys separately (the server's AWS_ACCESS_KEY_ID and "
                               "AWS_SECRET_ACCESS_KEY, or the keys of the request).")
        endpoint, bucket, prefix = _parse_s3(text)
        return Location("s3", f"s3:{endpoint}/{bucket}" + (f"/{prefix}" if prefix else ""))
    scheme = re.match(r"^([a-z][a-z0-9+]*):(?!\\)", text, re.IGNORECASE)
    if scheme and (scheme.group(1).lower() in ("sftp", "rest", "b2", "azure", "gs", "swift",
                                               "rclone", "http", "https", "ssh", "file")
                   or text[scheme.end():].startswith("//")):
        raise InvalidInput(f"Repositories of type '{scheme.group(1)}:' are not supported: "
                           "use a folder path or s3:http(s)://HOST:PORT/BUCKET[/PREFIX].")
    path = Path(text).expanduser()
    if not path.is_absolute():
        raise InvalidInput(f"The repository folder '{text}' is not an absolute path: give "
                           "the full path (the server may run in another folder).")
    path = Path(os.path.normpath(path))
    return Location("local", str(path), path)


def _parse_s3(url: str) -> tuple[str, str, str]:
    try:
        from core.repository.backend.s3 import parse_s3_url
    except ImportError:
        raise RepositoryError("S3 repositories are not available in this build.") from None
    try:
        return parse_s3_url(url)
    except ValueError as exc:   # the parser's message says what is wrong
        raise InvalidInput(f"Invalid S3 repository URL: {exc}") from None


# -- secrets ---------------------------------------------------------------------
@dataclass(frozen=True)
class S3Keys:
    access_key_id: str
    secret_access_key: str


class SecretStore:
    """0600 files under ``DATA_DIR/secrets`` (0700): ``<id>.password``, ``<id>.s3``."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = secrets_dir(data_dir)

    def _write(self, name: str, text: str) -> None:
        make_dir(self.folder)
        os.chmod(self.folder, 0o700)
        atomic_write(self.folder / name, text.encode("utf-8"), self.folder, mode=0o600)

    def _read(self, name: str) -> str | None:
        try:
            return (self.folder / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def save(self, repo_id: str, password: str | None, s3: S3Keys | None) -> None:
        if password is not None:
            self._write(f"{repo_id}.password", password)
        if s3 is not None:
            self._write(f"{repo_id}.s3", json.dumps(
                {"access_key_id": s3.access_key_id,
                 "secret_access_key": s3.secret_access_key}))

    def password(self, repo_id: str) -> str | None:
        """The stored password, without the line end an editor adds."""
        text = self._read(f"{repo_id}.password")
        if text is None:
            return None
        return text.removesuffix("\n").removesuffix("\r") if text.endswith("\n") else text

    def set_password(self, repo_id: str, password: str) -> None:
        self._write(f"{repo_id}.password", password)

    def set_s3_keys(self, repo_id: str, s3: S3Keys) -> None:
        self.save(repo_id, None, s3)

    def s3_keys(self, repo_id: str) -> S3Keys | None:
        raw = self._read(f"{repo_id}.s3")
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return S3Keys(str(data["access_key_id"]), str(data["secret_access_key"]))
        except (ValueError, KeyError, TypeError):
            raise RepositoryError(f"The S3 keys file {self.folder / (repo_id + '.s3')} is "
                                  "damaged: remove the repository and add it again with its "
                                  "keys.") from None

    # other secrets of the server (the notifications' SMTP password), by file name
    def get(self, name: str) -> str | None:
        text = self._read(name)
        return text.removesuffix("\n") if text is not None else None

    def put(self, name: str, text: str) -> None:
        self._write(name, text)

    def drop(self, name: str) -> None:
        (self.folder / name).unlink(missing_ok=True)

    def remove(self, repo_id: str) -> None:
        for suffix in (".password", ".s3"):
            (self.folder / f"{repo_id}{suffix}").unlink(missing_ok=True)


def server_s3_keys() -> S3Keys | None:
    key, secret = os.environ.get(ENV_ACCESS_KEY), os.environ.get(ENV_SECRET_KEY)
    return S3Keys(key, secret) if key and secret else None


def spec_s3_keys(access_key_id: str | None, secret: SecretStr | None) -> S3Keys | None:
    if access_key_id is None and secret is None:
        return None
    if not access_key_id or secret is None or not secret.get_secret_value():
        raise InvalidInput("Give both S3 keys (access key id and secret access key), or "
                           "neither to use the server's AWS_ACCESS_KEY_ID and "
                           "AWS_SECRET_ACCESS_KEY.")
    return S3Keys(access_key_id, secret.get_secret_value())


# -- opening ---------------------------------------------------------------------
def s3_backend(location: str, keys: S3Keys | None, *, create_bucket: bool = False,
               timeout: float | None = None, quick: bool = False) -> Any:
    """An S3 back end, connected and checked. ``timeout``: to connect;
    ``quick``: one attempt per request (listing the repositories)."""
    try:
        from core.repository.backend.s3 import S3Backend
    except ImportError:
        raise RepositoryError("S3 repositories are not available in this build.") from None
    keys = keys or server_s3_keys()
    if keys is None:
        raise InvalidInput(f"No S3 keys for {location}: give them when adding the repository, "
                           f"or set {ENV_ACCESS_KEY} and {ENV_SECRET_KEY} for the server.")
    options: dict[str, Any] = {"create_bucket": create_bucket}
    if timeout is not None:
        options["connect_timeout"] = timeout
    if quick:
        options.update(max_attempts=1, read_timeout=timeout or S3_TIMEOUT_S)
    try:
        return S3Backend.from_url(location, keys.access_key_id, keys.secret_access_key,
                                  **options)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    except OSError as exc:
        if exc.errno == errno.EACCES:   # the keys are wrong: the request's fault, not ours
            raise S3AccessDenied(str(exc)) from None
        raise


def open_repository(kind: str, location: str, *, password: str | None,
                    s3: S3Keys | None, create: bool = False,
                    timeout: float | None = None,
                    immutable_days: int | None = None) -> Repository:
    """Open (``create``: or make) the repository at ``location``. Close it
    with :func:`close_repository`, which also lets go of an S3 connection."""
    if kind == "local":
        return Repository.open(Path(location), create=create, password=password,
                               immutable_days=immutable_days)
    if kind != "s3":
        raise RepositoryError(f"Unknown repository kind '{kind}' for {location}.")
    backend = s3_backend(location, s3, create_bucket=create, timeout=timeout)
    try:
        return Repository.open(backend, create=create, password=password,
                               immutable_days=immutable_days)
    except BaseException:
        backend.close()
        raise


def unlock_with(kind: str, location: str, password: str | None, s3: S3Keys | None, *,
                timeout: float | None = None) -> str:
    """The id of the key ``password`` opens in the repository at ``location``
    (WrongPassword, PasswordRequired when it opens none). Opens no repository."""
    backend = LocalBackend(Path(location)) if kind == "local" else \
        s3_backend(location, s3, timeout=timeout, quick=timeout is not None)
    try:
        if not backend.exists(CONFIG):
            raise RepositoryError(f"No repository at {location}: check that its location is "
                                  "right and its storage reachable.")
        return unlock(backend, password)[1]   # type: ignore[arg-type]
    finally:
        backend.close()


def stored_password_problem(entry: Entry, missing: bool = False) -> str:
    what = (f"The backup server keeps no password for the encrypted repository '{entry.name}'"
            if missing else f"The password the backup server keeps for the encrypted "
            f"repository '{entry.name}' does not open it")
    return (f"{what}: set the right one with 'agent-jobs repository password "
            f"{shlex.quote(entry.name)} --password-file FILE'.")


def close_repository(repo: Repository) -> None:
    repo.close()
    if repo.backend.kind == "s3":   # a local folder's back end is the repository's own
        repo.backend.close()


def repository_exists(kind: str, location: str, s3: S3Keys | None,
                      timeout: float | None = None) -> bool:
    """Whether a repository (its config) is already at ``location``."""
    if kind == "local":
        folder = Path(location)
        if folder.exists() and not folder.is_dir():
            raise InvalidInput(f"{location} is a file, not a folder: choose a folder for the "
                               "repository.")
        return (folder / CONFIG).exists()
    try:
        backend = s3_backend(location, s3, timeout=timeout)
    except OSError as exc:
        if exc.errno == errno.ENOENT:   # no such bucket: it is created with the repository
            return False
        raise
    try:
        return bool(backend.exists(CONFIG))
    finally:
        backend.close()


# -- the registry ----------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """A repository as the registry knows it (no secrets)."""

    id: str
    name: str
    kind: str
    location: str
    encrypted: bool
    default: bool = False
    immutable_days: int | None = None   # as recorded: 0 not immutable, None not known yet


class Registry:
    """Registered repositories of one data directory, and their secrets."""

    def __init__(self, data_dir: Path, catalogue: Catalogue) -> None:
        self.data_dir = data_dir
        self.catalogue = catalogue
        self.secrets = SecretStore(data_dir)

    def default_entry(self) -> Entry:
        return Entry(DEFAULT_ID, DEFAULT_REPOSITORY, "local",
                     str(default_repository_path(self.data_dir)), False, default=True)

    def entries(self) -> list[Entry]:
        return [self.default_entry()] + [_entry(r) for r in self.catalogue.repositories()]

    def entry(self, name: str) -> Entry:
        if is_default(name):
            return self.default_entry()
        try:
            return _entry(self.catalogue.repository(name.strip()))
        except NotFound:
            known = ", ".join(f"'{e.name}'" for e in self.entries())
            raise InvalidInput(f"Unknown backup repository '{name}'. Known repositories: "
                               f"{known} (see 'agent-jobs repository list').") from None

    def open(self, entry: Entry, *, read_only: bool = False) -> Repository:
        """Open a repository; the data directory's own one is created on first
        use (unless ``read_only``), a registered one never is: its disk may be
        detached."""
        if entry.default:
            return Repository.open(default_repository_path(self.data_dir),
                                   create=not read_only)
        password = self.secrets.password(entry.id)
        try:
            repo = open_repository(entry.kind, entry.location, password=password,
                                   s3=self.secrets.s3_keys(entry.id))
        except (WrongPassword, PasswordRequired):
            raise WrongPassword(stored_password_problem(entry, missing=password is None)) \
                from None
        if not repo.encrypted and (entry.encrypted or password is not None):
            close_repository(repo)
            raise RepositoryError(
                f"Backup repository '{entry.name}' was added encrypted, but the config.json "
                f"at {entry.location} now says it is not encrypted: the config was changed. "
                f"Restore config.json from a copy (its encryption must be {ENCRYPTION_AES}); "
                "nothing was changed.")
        return repo

    def password_problem(self, entry: Entry, timeout: float | None = None) -> str | None:
        """Why the password kept for an encrypted repository does not open it
        (None when it does). OSError, RepositoryError or InvalidInput when the
        repository cannot be read (``measure`` says why)."""
        if entry.default or not entry.encrypted:
            return None
        password = self.secrets.password(entry.id)
        try:
            unlock_with(entry.kind, entry.location, password, self.secrets.s3_keys(entry.id),
                        timeout=timeout)
        except (WrongPassword, PasswordRequired):
            return stored_password_problem(entry, missing=password is None)
        return None

    def s3_keys(self, entry: Entry) -> S3Keys | None:
        return None if entry.default else self.secrets.s3_keys(entry.id)

    def record(self, name: str, where: Location, encrypted: bool, password: str | None,
               s3: S3Keys | None, immutable_days: int | None = None) -> Entry:
        """Store a new repository and its secrets (secrets first: a row without
        its secrets never exists)."""
        repo_id = _random.token_hex(8)
        self.secrets.save(repo_id, password, s3)
        try:
            self.catalogue.add_repository(RepositoryRecord(
                id=repo_id, name=name, kind=where.kind, location=where.location,
                encrypted=encrypted, created=datetime.now(timezone.utc),
                immutable_days=immutable_days or 0))
        except BaseException:
            self.secrets.remove(repo_id)
            raise
        return self.entry(name)

    def forget(self, entry: Entry) -> None:
        self.catalogue.remove_repository(entry.name)
        self.secrets.remove(entry.id)


    def note_immutability(self, entry: Entry, repo: Repository) -> None:
        """Keep the catalogue's immutable_days as the opened repository has it."""
        if entry.default:
            return
        days = repo.immutable_days or 0
        if entry.immutable_days != days:
            self.catalogue.set_repository_immutable_days(entry.id, days)


def _entry(r: RepositoryRecord) -> Entry:
    return Entry(r.id, r.name, r.kind, r.location, r.encrypted,
                 immutable_days=r.immutable_days)


# -- looking at a repository without opening it ------------------------------------------
@dataclass
class Measure:
    used: int | None = None
    capacity: int | None = None
    free: int | None = None
    problem: str | None = None


def _folder_bytes(folder: Path) -> int:
    total = 0
    stack = [folder]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for e in entries:
                    if e.is_dir(follow_symlinks=False):
                        stack.append(Path(e.path))
                    elif e.is_file(follow_symlinks=False):
                        total += e.stat(follow_symlinks=False).st_size
        except OSError:
            continue
    return total


def measure(entry: Entry, s3: S3Keys | None, timeout: float = S3_TIMEOUT_S,
            backend: Any = None) -> Measure:
    """Used, capacity and free bytes, or why the repository cannot be reached.
    ``backend``: the open repository's S3 back end (its usage figure is cached)."""
    if entry.kind == "local":
        folder = Path(entry.location)
        if not folder.is_dir():
            if entry.default:   # created by the first backup
                return Measure(used=0, **_disk(_existing_parent(folder)))
            return Measure(problem=f"The folder {folder} does not exist (is its disk "
                                   "attached?).")
        if not (folder / CONFIG).exists():
            return Measure(problem=f"The folder {folder} holds no repository (is the right "
                                   "disk mounted there?).")
        return Measure(used=_folder_bytes(folder), **_disk(folder))
    try:
        probe = s3_backend(entry.location, s3, timeout=timeout, quick=True)   # reachable?
        try:
            usage = (backend or probe).usage()
        finally:
            probe.close()
    except (OSError, RepositoryError, InvalidInput) as exc:
        return Measure(problem=f"Cannot reach {entry.location}: {_reason(exc)}")
    return Measure(used=usage.used, capacity=usage.capacity, free=usage.free)


def _existing_parent(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


class _DiskSpace(TypedDict):
    capacity: int | None
    free: int | None


def _disk(folder: Path) -> _DiskSpace:
    try:
        st = os.statvfs(folder)
    except OSError:
        return {"capacity": None, "free": None}
    return {"capacity": st.f_blocks * st.f_frsize, "free": st.f_bavail * st.f_frsize}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or exc.__class__.__name__


def probe_empty_folder(folder: Path) -> None:
    """A local repository is created in a new or empty folder that can be written."""
    if folder.exists():
        if not folder.is_dir():
            raise InvalidInput(f"{folder} is a file, not a folder: choose a folder for the "
                               "repository.")
        if any(folder.iterdir()):
            raise InvalidInput(f"The folder {folder} holds other files and no repository: "
                               "choose a new or empty folder.")
    parent = _existing_parent(folder)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InvalidInput(f"The repository folder {folder} cannot be created: {parent} is "
                           "not writable by the server.")


def measure_all(entries: list[Entry], keys_of: Callable[[Entry], S3Keys | None],
                timeout: float = S3_TIMEOUT_S,
                backends: dict[str, Any] | None = None) -> dict[str, Measure | None]:
    """``measure`` every repository at once; one that has not answered after
    ``timeout`` (plus a second) gets a problem instead of holding the list.
    ``backends``: repository id -> the back end of an open S3 repository."""
    backends = backends or {}
    pool = ThreadPoolExecutor(max_workers=min(8, max(1, len(entries))),
                              thread_name_prefix="measure")
    futures = {e.id: pool.submit(measure, e, keys_of(e), timeout, backends.get(e.id))
               for e in entries}
    wait(list(futures.values()), timeout=timeout + 1.0)
    pool.shutdown(wait=False)
    found: dict[str, Measure | None] = {}
    for e in entries:
        future = futures[e.id]
        if not future.done():
            found[e.id] = Measure(problem=f"{e.location} did not answer within "
                                          f"{timeout:g} s.")
        elif future.exception() is not None:
            found[e.id] = Measure(problem=f"Cannot reach {e.location}: "
                                          f"{_reason(future.exception())}")  # type: ignore[arg-type]
        else:
            found[e.id] = future.result()
    return found


# -- keys ------------------------------------------------------------------------
@contextmanager
def exclusive_lock(repo: Repository, name: str) -> Iterator[None]:
    """The repository's exclusive lock, or JobStateError while it is in use."""
    lock = repo.backend.lock(exclusive=True, wait=False)
    if lock is None:
        raise JobStateError(f"Backup repository '{name}' is in use (a backup, restore or "
                            "verify runs): try again when it has finished.")
    with lock:
        yield
