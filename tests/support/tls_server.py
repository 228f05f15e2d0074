"""``agent-jobs server run --listen 127.0.0.1:0 --tls`` as a real process, and
clients that pin its certificate."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from core.api.tls import pinned_context, probe

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def agent_jobs(data: Path, *args: str, timeout: float = 60,
               env: dict[str, str] | None = None,
               input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "core.cli", "--data-dir", str(data), *args],
                          capture_output=True, text=True, env={**ENV, **(env or {})},
                          timeout=timeout, cwd=ROOT, input=input)


class TlsServer:
    def __init__(self, data: Path, *extra: str) -> None:
        self.data = data
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "--data-dir", str(data), "server", "run",
             "--listen", "127.0.0.1:0", "--tls", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
        assert self.proc.stdout is not None
        self.line = self.proc.stdout.readline()
        assert "listening on" in self.line, self.line + (self.proc.stderr.read()
                                                         if self.proc.stderr else "")
        found = re.search(r"https://([\d.]+):(\d+) \(TLS certificate SHA-256 fingerprint "
                          r"([0-9a-f]{64})\)", self.line)
        assert found, self.line
        self.host, self.port, self.fingerprint = found[1], int(found[2]), found[3]
        self.url = f"https://{self.host}:{self.port}"
        self.token = (data / "server.token").read_text().strip()
        seen, der = probe(self.host, self.port)
        assert seen == self.fingerprint
        self.context = pinned_context(der)

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"{self.url}/api/v1", verify=self.context,
                            headers=headers, timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.communicate(timeout=20)
                return
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.communicate(timeout=10)


def add_users(server: TlsServer, roles: dict[str, str], password: str,
              *extra_of: tuple[str, list[str]]) -> None:
    """``user add`` each NAME with its role and ``password`` through the server's
    local socket (as its own Unix user: the first administrator's way); ``extra_of``
    gives more options for some users, e.g. ``("rita", ["--restore-to", DIR])``."""
    pw = server.data.parent / "users.pw"
    pw.write_text(password + "\n")
    extras = dict(extra_of)
    for name, role in roles.items():
        done = agent_jobs(server.data, "user", "add", name, "--role", role,
                          "--password-file", str(pw), *extras.get(name, []))
        assert done.returncode == 0, done.stderr
