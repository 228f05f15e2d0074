"""Where the app keeps its data: --data-dir, else $AGENT_CONSOLE_DATA_DIR,
else the platform's user data directory."""
from __future__ import annotations

import os
import re
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


def secrets_dir(data_dir: Path) -> Path:
    """Repository passwords and S3 keys: 0600 files in a 0700 folder."""
    return data_dir / "secrets"


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


def is_read_only(data_dir: Path) -> bool:
    """Whether an existing data directory cannot be written (a read-only mount,
    an immutable folder, or no write permission)."""
    if not data_dir.is_dir():
        return False
    try:
        if os.statvfs(data_dir).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        pass
    return not os.access(data_dir, os.W_OK)


# ssh://..., s3:http://... (a Path keeps one of the two slashes)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:([A-Za-z]+:)?/")


def checked_restore_target(data_dir: Path, target: Path, overwrite: bool) -> Path:
    """The folder a restore may write into: outside the data directory, and new
    or empty unless ``overwrite`` (RestoreError otherwise)."""
    from core.errors import RestoreError

    if _URL.match(str(target)):
        raise RestoreError(f"Cannot restore into {target}: a restore target is a folder on "
                           "the backup server's machine, not a URL. Give a folder path.")
    target = Path(target).expanduser().resolve()
    home = data_dir.resolve()
    if target == home or home in target.parents:
        raise RestoreError(f"Cannot restore into {target}: it is inside the console's "
                           "data directory. Choose a folder outside it.")
    if target.exists() and (not target.is_dir() or (not overwrite
                                                     and any(target.iterdir()))):
        raise RestoreError(f"Restore target {target} is not an empty folder. Choose a "
                           "new or empty folder so that no existing file is overwritten.")
    return target


def server_tls_dir(data_dir: Path) -> Path:
    """The TLS listener's own certificate and key (made when none is given)."""
    return data_dir / "tls"
