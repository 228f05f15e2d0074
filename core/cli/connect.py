"""The CLI's connection to the data directory's server."""
from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.paths import is_read_only
from core.api.client import ServerClient
from core.api.launcher import server_answers


@contextmanager
def client(data_dir: Path, *, autostart: bool = True,
           args: argparse.Namespace | None = None) -> Iterator[ServerClient]:
    """The data directory's server; on a read-only data directory that no
    server serves, the in-process read-only access (core.service.offline): reading
    commands work, changing ones say "read-only"."""
    if is_read_only(data_dir) and not server_answers(data_dir):
        from core.service.offline import ReadOnlyService   # loads the catalogue and repository

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
