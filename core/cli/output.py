"""How the CLI prints: tables for people, JSON for scripts."""
from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from datetime import datetime
from typing import Any

from core.errors import InvalidInput


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def short(dt: datetime | None) -> str:
    return dt.astimezone().strftime("%Y-%m-%d %H:%M:%S") if dt else ""


def print_json(rows: Any) -> None:
    json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def print_error(message: str, kind: str, *, as_json: bool, code: int = 1) -> int:
    """Say what went wrong, in one line on stderr, or with ``--json`` as
    ``{"error": {"kind": ..., "message": ...}}`` on stdout; returns the exit status."""
    if as_json:
        print_json({"error": {"kind": kind, "message": message}})
    else:
        print(f"error: {message}", file=sys.stderr)
    return code


def table(headers: list[str], rows: list[list[Any]]) -> None:
    cells = [headers] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


@contextmanager
def _reading(option: str, path: Path) -> Iterator[None]:
    """Why ``path``, given with ``option``, cannot be read, in one line."""
    try:
        yield
    except FileNotFoundError:
        raise InvalidInput(f"{option}: {path} does not exist.") from None
    except IsADirectoryError:
        raise InvalidInput(f"{option}: {path} is a folder, not a file.") from None
    except PermissionError:
        raise InvalidInput(f"{option}: {path} cannot be read (permission denied).") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{option}: {path} is not a text file (UTF-8).") from None
    except OSError as exc:
        raise InvalidInput(f"{option}: cannot read {path}: {exc.strerror or exc}.") from None


def read_password_file(name: str, option: str) -> str:
    """The first line of a password file (without its line end)."""
    path = Path(name).expanduser()
    with _reading(option, path), open(path, encoding="utf-8") as f:
        line = f.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise InvalidInput(f"{option}: the first line of {path} is empty; put the password "
                           "on it.")
    return password
