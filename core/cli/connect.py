"""The CLI's connection to the data directory's server."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..server.client import ServerClient


@contextmanager
def client(data_dir: Path, *, autostart: bool = True) -> Iterator[ServerClient]:
    api = ServerClient(data_dir, autostart=autostart)
    try:
        yield api
    finally:
        api.close()
