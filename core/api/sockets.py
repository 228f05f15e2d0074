"""Unix socket addresses of any length, and the server's token file."""
from __future__ import annotations

import os
import secrets
import socket
import threading
from pathlib import Path

# sun_path holds 108 bytes; longer paths are reached through a directory fd.
MAX_UNIX_PATH = 100
_dir_fds: dict[str, int] = {}
_dir_fds_lock = threading.Lock()


def unix_address(path: Path) -> str:
    """An address for ``path`` that fits in a sockaddr_un, valid in this process."""
    text = str(path)
    if len(text.encode()) <= MAX_UNIX_PATH:
        return text
    parent = str(path.parent)
    with _dir_fds_lock:
        fd = _dir_fds.get(parent)
        if fd is None:
            fd = os.open(parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            _dir_fds[parent] = fd
    return f"/proc/self/fd/{fd}/{path.name}"


def bind_unix(path: Path) -> socket.socket:
    """A listening socket at ``path``, mode 0600; a stale socket file left by a
    killed server is replaced (the caller owns the data directory)."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(unix_address(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(128)
    sock.setblocking(False)
    return sock


def socket_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the socket file at ``path``, None if there is none."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def unlink_own_socket(path: Path, identity: tuple[int, int] | None) -> bool:
    """Remove the socket file at ``path`` only if it is still the one this
    server bound (``identity``). A server that replaced us (after the data
    directory was recreated, or after our lock was lost) owns the path now:
    deleting its socket would leave it unreachable while it holds the lock."""
    if identity is None or socket_identity(path) != identity:
        return False
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def bind_tcp(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def ensure_token(path: Path) -> str:
    """The bearer token for TCP clients, created once with mode 0600."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        token = path.read_text().strip()
        if token:
            return token
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token

