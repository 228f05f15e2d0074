"""Host key checks against one known_hosts file, as OpenSSH does with
StrictHostKeyChecking=yes (or accept-new): a key never seen for the host is
refused unless accepting new keys, then remembered; a key that differs from
the one remembered is always refused."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from core.process.private_files import make_dir
from core.agents.ssh.sshlib import asyncssh


def host_pattern(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


class HostKeyPolicy:
    def __init__(self, path: Path, accept_new: bool) -> None:
        self.path = path
        self.accept_new = accept_new
        self.problem: str | None = None     # "unknown" | "changed" | "unwritable"
        self.detail = ""
        self.remembered = False

    def known(self, host: str, port: int) -> list[asyncssh.SSHKey]:
        """The keys remembered for host:port (none when the file is missing)."""
        try:
            data = self.path.read_text()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise OSError(exc.errno, f"cannot read known_hosts file {self.path}: "
                                     f"{exc.strerror}") from None
        if not data.strip():
            return []
        hosts = asyncssh.import_known_hosts(data)
        addr = host if _is_ip(host) else ""
        return list(asyncssh.match_known_hosts(hosts, host, addr, port)[0])

    def decide(self, host: str, port: int, key: asyncssh.SSHKey,
               known: list[asyncssh.SSHKey]) -> bool:
        """Called when ``key`` is not among the ``known`` keys of the host."""
        fingerprint = key.get_fingerprint()
        if known:
            self.problem = "changed"
            self.detail = fingerprint
            return False
        if not self.accept_new:
            self.problem = "unknown"
            self.detail = fingerprint
            return False
        try:
            self._remember(host, port, key)
        except OSError as exc:
            self.problem = "unwritable"
            self.detail = f"{exc.strerror or exc}"
            return False
        self.remembered = True
        self.detail = fingerprint
        return True

    def _remember(self, host: str, port: int, key: asyncssh.SSHKey) -> None:
        make_dir(self.path.parent)
        line = f"{host_pattern(host, port)} {key.export_public_key('openssh').decode().split()[0]}" \
               f" {key.export_public_key('openssh').decode().split()[1]}\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if key in self.known(host, port):   # another connection remembered it meanwhile
                return
            if os.fstat(fd).st_size:
                with open(self.path, "rb") as f:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":
                        line = "\n" + line
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
