"""Who owns a data directory, as its clients read it from ``server.lock``
(the owner side, taking and holding the lock, is :mod:`core.service.ownership`).
Clients and the console may import this; it loads nothing of the server."""
from __future__ import annotations

import fcntl
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from core.paths import server_lock_path


def describe_owner(owner: dict[str, Any] | None) -> str:
    if not owner:
        return "another process"
    since = owner.get("started")
    when = ""
    if since:
        try:
            when = f", since {datetime.fromisoformat(since).astimezone():%Y-%m-%d %H:%M:%S}"
        except ValueError:
            pass
    return f"{owner.get('role', 'a process')} (pid {owner.get('pid', '?')}{when})"


def read_owner(data_dir: Path) -> dict[str, Any] | None:
    """Who owns the data directory now, or None when nobody does."""
    path = server_lock_path(data_dir)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raw = os.pread(fd, 4096, 0)
            try:
                info = json.loads(raw or b"{}")
            except ValueError:
                info = {}
            return info if isinstance(info, dict) else {}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
