"""One log per data directory: every process appends to a rotating file
under ``DATA_DIR/logs/`` named after its role (server, console, cli)."""
from __future__ import annotations

import io
import logging
import logging.handlers
import os
from pathlib import Path

from core.paths import logs_dir
from core.process.private_files import make_dir, open_file

MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 3
FORMAT = "%(asctime)s %(process)d %(threadName)s %(levelname)s %(name)s: %(message)s"


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Each log file it creates (the first and each after a rotation) is
    0600: logs name jobs, computers and paths."""

    def _open(self) -> io.TextIOWrapper:
        fd = open_file(self.baseFilename, os.O_WRONLY | os.O_APPEND)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def setup_logging(data_dir: Path, role: str, level: int = logging.INFO) -> Path | None:
    """Send this process's log records to ``DATA_DIR/logs/<role>.log``.
    Returns the file, or None when the folder cannot be written."""
    path = logs_dir(data_dir) / f"{role}.log"
    try:
        make_dir(path.parent)
        handler = PrivateRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                             encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_agent_console_log", False)]:
        root.removeHandler(old)
        old.close()
    handler._agent_console_log = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return path
