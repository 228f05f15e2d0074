"""Where the app keeps its data: --data-dir, else $AGENT_CONSOLE_DATA_DIR,
else the platform's user data directory."""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_VAR = "AGENT_CONSOLE_DATA_DIR"
APP_NAME = "agent-backup-console"


def resolve_data_dir(arg: str | os.PathLike[str] | None = None) -> Path:
    if arg:
        return Path(arg).expanduser().resolve()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def catalogue_path(data_dir: Path) -> Path:
    return data_dir / "catalogue.sqlite"


def default_repository_path(data_dir: Path) -> Path:
    return data_dir / "repositories" / "default"


def demo_computers_dir(data_dir: Path) -> Path:
    return data_dir / "demo-computers"


def server_socket_path(data_dir: Path) -> Path:
    return data_dir / "server.sock"


def server_token_path(data_dir: Path) -> Path:
    return data_dir / "server.token"


def server_lock_path(data_dir: Path) -> Path:
    """Held (flock) by the one process that owns the data directory."""
    return data_dir / "server.lock"


def logs_dir(data_dir: Path) -> Path:
    return data_dir / "logs"
