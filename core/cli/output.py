"""How the CLI prints: tables for people, JSON for scripts."""
from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any


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
