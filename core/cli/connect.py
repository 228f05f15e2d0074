"""The CLI's connection to the data directory's server."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..server.client import ServerClient
from ..server.launcher import server_answers


@contextmanager
def client(data_dir: Path, *, autostart: bool = True) -> Iterator[ServerClient]:
    """The data directory's server; on a read-only data directory that no
    server serves, the in-process read-only access (core.offline): reading
    commands work, changing ones say "read-only"."""
    if _read_only(data_dir) and not server_answers(data_dir):
        from ..offline import ReadOnlyService   # loads the catalogue and repository

        offline = ReadOnlyService(data_dir)
        try:
            yield offline   # type: ignore[misc]
        finally:
            offline.close()
        return
    api = ServerClient(data_dir, autostart=autostart)
    try:
        yield api
    finally:
        api.close()


def _read_only(data_dir: Path) -> bool:
    if not data_dir.is_dir():
        return False
    try:
        if os.statvfs(data_dir).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        pass
    return not os.access(data_dir, os.W_OK)
