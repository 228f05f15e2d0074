"""A real OpenSSH server on 127.0.0.1 for tests: its own free port, a
temporary host key and one authorized client key, running as the current
user (as root: key-only root login, StrictModes off). Debian's
openssh-server provides /usr/sbin/sshd (.ci/setup installs it)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def sshd_available() -> bool:
    return Path(SSHD).exists() and subprocess.run(
        ["which", "ssh-keygen"], capture_output=True).returncode == 0


def keygen(path: Path) -> str:
    """A new ed25519 key pair at ``path`` (no passphrase); the public line."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f",
                    str(path)], check=True, capture_output=True)
    return Path(f"{path}.pub").read_text().strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Sshd:
    folder: Path
    port: int
    user: str
    client_key: Path
    host_public: str                    # "ssh-ed25519 AAAA... test"
    process: subprocess.Popen | None = field(default=None, repr=False)

    host = "127.0.0.1"

    def url(self, path: str | os.PathLike[str]) -> str:
        return f"ssh://{self.user}@{self.host}:{self.port}{Path(path).resolve()}"

    def known_hosts_line(self) -> str:
        kind, blob = self.host_public.split()[:2]
        return f"[{self.host}]:{self.port} {kind} {blob}\n"

    def session_pids(self) -> list[int]:
        """The per-connection sshd processes under the listener."""
        assert self.process is not None
        return _children(self.process.pid)

    def agent_pids(self) -> list[int]:
        """The backup agents (python3) running under this server's sessions."""
        found = []
        for pid in _descendants(self.process.pid):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"backup_agent.main" in cmd:
                found.append(pid)
        return found

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            for pid in _descendants(self.process.pid):
                _kill(pid, signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_sshd(folder: Path, port: int | None = None, extra: tuple[str, ...] = (),
               env: dict[str, str] | None = None) -> Sshd:
    """``extra``: more sshd_config lines (e.g. a ForceCommand); ``env``: more variables for
    the sessions (sshd takes one SetEnv line: the first)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    host_public = keygen(folder / "host_ed25519")
    client_public = keygen(folder / "client_ed25519")
    (folder / "authorized_keys").write_text(client_public + "\n")
    os.chmod(folder / "authorized_keys", 0o600)
    port = port or free_port()
    user = _user()
    config = folder / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1",
        f"HostKey {folder / 'host_ed25519'}", f"PidFile {folder / 'sshd.pid'}",
        f"AuthorizedKeysFile {folder / 'authorized_keys'}",
        "PubkeyAuthentication yes", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
        "StrictModes no", "UsePAM no", "MaxStartups 200:30:400", "MaxSessions 200",
        "LogLevel ERROR", "PrintMotd no",
        # the agent's module cache stays in the test's folder, not in ~/.cache
        " ".join([f"SetEnv XDG_CACHE_HOME={folder / 'cache'}",
                  *(f"{k}={v}" for k, v in (env or {}).items())]), *extra, "",
    ]))
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)   # privilege separation
    log = open(folder / "sshd.log", "ab")
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    server = Sshd(folder, port, user, folder / "client_ed25519", host_public, process)
    deadline = time.monotonic() + 10
    waiter = threading.Event()
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"sshd did not start: {(folder / 'sshd.log').read_text()}")
        try:
            with socket.create_connection((server.host, port), timeout=1):
                return server
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError("sshd did not listen in time") from None
            waiter.wait(0.02)


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry.name))
    return out


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        found.extend(kids)
        todo.extend(kids)
    return found


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
