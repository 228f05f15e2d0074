"""Turning SQLite and row-decoding failures into operator messages.

Every public method of the catalogue goes through :func:`guarded`, so a full
disk, a read-only data directory, a damaged page or a damaged row never
reaches a front end as "unexpected OperationalError" or a pydantic dump."""
from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from core.errors import CatalogueError, ConsoleError, ReadOnlyError
from core.process.fdlimit import out_of_descriptors, too_many_open_files

_FULL, _READONLY, _CORRUPT, _NOTADB, _CANTOPEN, _IOERR, _BUSY, _LOCKED = 13, 8, 11, 26, 14, \
    10, 5, 6

T = TypeVar("T")


def what_is_lost(path: Path) -> str:
    return (f"Job definitions, schedules and session history live only in the catalogue "
            f"{path}; restore points live in the repository and are never lost with it. Run "
            "'agent-jobs repair --catalogue' to rebuild it from the repository's manifests: "
            "it keeps every restore point and every job it can still read, and moves the "
            "damaged file aside")


def damaged_catalogue(path: Path, detail: object) -> CatalogueError:
    return CatalogueError(f"The catalogue {path} is damaged ({detail}). {what_is_lost(path)}.")


def translate(exc: BaseException, path: Path) -> ConsoleError | None:
    """The operator error for ``exc``, or None if it is not a catalogue failure."""
    if isinstance(exc, ConsoleError):
        return exc
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
        text = str(exc)
        if code == _FULL or "disk is full" in text:
            return CatalogueError(
                f"The disk is full: the catalogue {path} cannot be written. Free space on "
                f"that disk (the data directory {path.parent}), then try again; restore points "
                "already made are intact.")
        if code == _READONLY or "readonly database" in text:
            return ReadOnlyError(
                f"The data directory {path.parent} is read-only: listing jobs, points and "
                "sessions, restore and verify work, but nothing can be changed. Make it "
                "writable to run or change jobs.")
        if code in (_CORRUPT, _NOTADB) or "malformed" in text or "not a database" in text:
            return damaged_catalogue(path, text)
        if code in (_CANTOPEN, _IOERR) and out_of_descriptors():
            return CatalogueError(too_many_open_files(f"the catalogue {path}"))
        if code == _CANTOPEN or "unable to open" in text:
            return CatalogueError(
                f"Cannot open the catalogue {path} ({text}): check that the data directory "
                f"{path.parent} exists, is readable, and that its disk is attached.")
        if code == _IOERR or "I/O error" in text:
            return CatalogueError(
                f"The disk holding the catalogue {path} reported an I/O error ({text}): check "
                "that disk, then try again.")
        if code in (_BUSY, _LOCKED) or "locked" in text:
            return CatalogueError(
                f"The catalogue {path} stayed locked by another process: try again.")
        return CatalogueError(f"The catalogue {path} failed ({text}): check the disk of the "
                              "data directory, then try again.")
    if isinstance(exc, ValidationError):
        err: Mapping[str, Any] = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in err.get("loc", ()))
        what = exc.title
        return damaged_catalogue(path, f"a {what} row is invalid"
                                 + (f" at {where}" if where else "") + f": {err.get('msg', '')}")
    if isinstance(exc, (ValueError, TypeError, KeyError)) and not isinstance(exc, UnicodeError):
        return damaged_catalogue(path, f"a row cannot be decoded: {exc}")
    return None


def guarded(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, ValidationError, ValueError, TypeError, KeyError) as exc:
            if isinstance(exc, ConsoleError):
                raise
            error = translate(exc, self.path)
            if error is None:
                raise
            raise error from exc
    return wrapper


def guard_public_methods(cls: type[T]) -> type[T]:
    for klass in cls.__mro__:
        for name, value in list(vars(klass).items()):
            if name.startswith("_") or not callable(value) or isinstance(value, (staticmethod,
                                                                                   classmethod)):
                continue
            if name in vars(cls) and getattr(vars(cls)[name], "__wrapped__", None):
                continue
            setattr(cls, name, guarded(value))
    return cls
