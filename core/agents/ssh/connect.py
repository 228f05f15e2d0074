"""Open an SSH connection to a computer and start the agent there, with one
clear message for each way that fails."""
from __future__ import annotations

import asyncio
import socket
import struct
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.agents.ssh.sshlib import asyncssh

from core.models import SshSettings, SshTarget

from core.agents.ssh import payload
from core.agents.ssh.errors import RemoteError
from core.agents.ssh.hostkeys import HostKeyPolicy, host_pattern

CONNECT_TIMEOUT_S = 15.0
HELLO_TIMEOUT_S = 30.0
# A computer that sends nothing (not even a keep-alive reply) for
# KEEPALIVE_S * KEEPALIVE_MISSES seconds is given up.
KEEPALIVE_S = 10.0
KEEPALIVE_MISSES = 3
MAX_HELLO = 1 << 16


@dataclass
class Opened:
    conn: asyncssh.SSHClientConnection
    process: asyncssh.SSHClientProcess[bytes]
    python: str
    native_problem: str            # why the computer cannot cut and hash ("" if it can)
    remembered_key: str | None     # the fingerprint accepted and remembered, if any
    sent: int = 0                  # bytes sent to the computer to start the agent
    silence_s: float = 0.0         # how long a silent computer is waited for
    pid: int = 0                   # the agent's process id on the computer


class _Client(asyncssh.SSHClient):
    def __init__(self, policy: HostKeyPolicy, target: SshTarget,
                 known: list[asyncssh.SSHKey]) -> None:
        self.policy, self.target, self.known = policy, target, known

    def validate_host_public_key(self, host: str, addr: str, port: int,
                                 key: asyncssh.SSHKey) -> bool:
        return self.policy.decide(self.target.host, self.target.port, key, self.known)


async def open_agent(target: SshTarget, settings: SshSettings, known_hosts: Path,
                     native: bool = True) -> Opened:
    where = f"{target.address}"
    policy = HostKeyPolicy(known_hosts, settings.accept_new_host_key)
    try:
        known = policy.known(target.host, target.port)
    except (OSError, ValueError) as exc:
        raise RemoteError(f"Cannot check the host key of {where}: {exc}") from None
    options: dict[str, Any] = {}
    if settings.identity_file:
        identity = Path(settings.identity_file).expanduser()
        if not identity.is_file():
            raise RemoteError(f"The identity file {identity} does not exist. Choose the "
                              "private key the server uses to log in to the computer.")
        try:
            options["client_keys"] = [asyncssh.read_private_key(str(identity))]
        except asyncssh.KeyEncryptionError:
            raise RemoteError(f"The identity file {identity} is protected by a passphrase: "
                              "use a key without one, or load it into an ssh-agent.") from None
        except (asyncssh.KeyImportError, OSError) as exc:
            raise RemoteError(f"The identity file {identity} cannot be used as a private "
                              f"key: {getattr(exc, 'strerror', None) or exc}.") from None
    try:
        conn, _ = await asyncssh.create_connection(
            lambda: _Client(policy, target, known), target.host, target.port,
            username=target.user, known_hosts=(known, [], []),
            connect_timeout=CONNECT_TIMEOUT_S, keepalive_interval=KEEPALIVE_S,
            keepalive_count_max=KEEPALIVE_MISSES - 1,   # it gives up on the next miss
            **options)
    except asyncssh.HostKeyNotVerifiable:
        raise RemoteError(_host_key_message(policy, target, known_hosts)) from None
    except asyncssh.KeyExchangeFailed as exc:
        if known:
            raise RemoteError(
                f"The host key of {where} CHANGED: it no longer offers the key remembered in "
                f"{known_hosts} ({exc.reason}). If the computer was reinstalled, remove its line "
                f"'{host_pattern(target.host, target.port)}' from that file; otherwise someone "
                "may be impersonating it.") from None
        raise RemoteError(f"SSH negotiation with {where} failed: {exc.reason}") from None
    except asyncssh.PermissionDenied:
        how = f"the identity file {settings.identity_file}" if settings.identity_file \
            else "the server user's SSH keys (~/.ssh/id_*, ssh-agent)"
        raise RemoteError(
            f"Authentication as '{target.user}' on {target.host}:{target.port} failed: the "
            f"computer refused {how}. Add the public key to ~{target.user}/.ssh/authorized_keys "
            "on the computer, or choose the right identity file in the job's SSH "
            "settings.") from None
    except asyncssh.DisconnectError as exc:
        raise RemoteError(f"The SSH server of {where} closed the connection: "
                          f"{exc.reason}") from None
    except ConnectionRefusedError:
        raise RemoteError(f"Connection to {target.host} port {target.port} refused: no SSH "
                          "server listens there. Check the host, the port and that sshd "
                          "runs on the computer.") from None
    except socket.gaierror as exc:
        raise RemoteError(f"Host '{target.host}' not found ({exc.strerror}). Check the "
                          "computer's address.") from None
    except (asyncio.TimeoutError, TimeoutError):   # before OSError: a subclass of it (3.11+)
        raise RemoteError(f"Connection to {target.host} port {target.port} timed out after "
                          f"{CONNECT_TIMEOUT_S:g} s: the computer is off, unreachable or "
                          "a firewall drops the connection.") from None
    except OSError as exc:
        raise RemoteError(f"Cannot connect to {target.host} port {target.port}: "
                          f"{exc.strerror or exc}.") from None
    try:
        return await _start_agent(conn, target, native, policy)
    except (asyncssh.Error, OSError) as exc:
        conn.abort()
        raise RemoteError(f"The SSH server of {where} did not run the backup agent: "
                          f"{getattr(exc, 'reason', None) or exc}") from None
    except BaseException:
        conn.abort()
        raise


def _host_key_message(policy: HostKeyPolicy, target: SshTarget, known_hosts: Path) -> str:
    where = f"{target.host}:{target.port}"
    if policy.problem == "changed":
        return (f"The host key of {where} CHANGED (it now offers {policy.detail}, which differs "
                f"from the key remembered in {known_hosts}). The connection was refused. If "
                f"the computer was reinstalled, remove its line "
                f"'{host_pattern(target.host, target.port)}' from that file; otherwise someone "
                "may be impersonating it.")
    if policy.problem == "unwritable":
        return (f"The new host key of {where} could not be remembered in {known_hosts}: "
                f"{policy.detail}.")
    return (f"The host key of {where} ({policy.detail}) is unknown: it is not in {known_hosts}. "
            "Check the fingerprint with the computer's administrator, then trust it: tick "
            "'Trust the host key the first time it is seen' in the job's SSH settings "
            "(--accept-new-host-key), or add the key to that file.")


async def _start_agent(conn: asyncssh.SSHClientConnection, target: SshTarget, native: bool,
                       policy: HostKeyPolicy) -> Opened:
    where = target.address
    process = await conn.create_process(payload.command(), encoding=None)
    try:
        hello = await asyncio.wait_for(_read_hello(process.stdout, where),
                                       HELLO_TIMEOUT_S)
    except (asyncio.TimeoutError, TimeoutError):   # before OSError: a subclass of it (3.11+)
        raise RemoteError(f"The backup agent did not start on {where} within "
                          f"{HELLO_TIMEOUT_S:g} s.") from None
    except (asyncio.IncompleteReadError, ValueError, asyncssh.Error, OSError):
        status, err = await _exit_of(process)
        if status == 127 or "not found" in err:
            raise RemoteError(f"python3 is missing on {where}: install Python 3.8 or newer "
                              "there (the backup agent needs only python3).") from None
        raise RemoteError(f"The backup agent could not start on {where}: "
                          f"{err or f'exit status {status}'}") from None
    version = tuple(int(x) for x in str(hello.get("python", "0.0.0")).split(".")[:2])
    if version < payload.MIN_PYTHON:
        process.stdin.write(struct.pack(">I", 0))
        raise RemoteError(f"python3 on {where} is Python {hello.get('python')}: the backup "
                          "agent needs Python 3.8 or newer.")
    use_native = native and payload.native_matches(hello.get("soabi", ""),
                                                    hello.get("machine", ""))
    app = struct.pack(">I", len(payload.zipapp())) + payload.zipapp()
    process.stdin.write(app)
    await process.stdin.drain()
    problem = "" if use_native else (
        "native modules disabled" if not native else
        f"its Python ({hello.get('python')}, {hello.get('soabi') or '?'} on "
        f"{hello.get('machine') or '?'}) differs from the server's "
        f"({'/'.join(payload.server_abi())})")
    return Opened(conn, process, str(hello.get("python")), problem,
                  policy.detail if policy.remembered else None, len(app),
                  KEEPALIVE_S * KEEPALIVE_MISSES, _pid(hello))


async def _read_hello(stdout: asyncssh.SSHReader[bytes], where: str) -> dict[str, Any]:
    """The agent's hello, after whatever the login shell printed before it
    (skipped, up to ``payload.MAX_JUNK`` bytes)."""
    magic = payload.HELLO_MAGIC
    buf = bytearray()
    while (at := buf.find(magic)) < 0:
        if len(buf) > payload.MAX_JUNK:
            raise RemoteError(f"The login shell on {where} printed {_quote(bytes(buf))} before "
                              "the backup agent started: make it quiet for non-interactive "
                              "sessions (a banner, or an echo in .bashrc or a ForceCommand, "
                              "must print only when a terminal is attached).")
        chunk = await stdout.read(4096)
        if not chunk:
            raise asyncio.IncompleteReadError(bytes(buf), None)
        buf += chunk
    rest = bytes(buf[at + len(magic):])
    if len(rest) < 4:
        rest += await stdout.readexactly(4 - len(rest))
    (n,) = struct.unpack(">I", rest[:4])
    if n > MAX_HELLO:
        raise ValueError(f"a hello of {n} bytes")
    body = rest[4:]
    if len(body) < n:
        body += await stdout.readexactly(n - len(body))
    hello: dict[str, Any] = json.loads(body[:n])
    return hello


def _pid(hello: dict[str, Any]) -> int:
    try:
        return max(0, int(hello.get("pid") or 0))
    except (TypeError, ValueError):
        return 0


def _quote(junk: bytes, limit: int = 60) -> str:
    """The first line a chatty shell printed, printable characters only."""
    text = junk.decode(errors="replace")
    line = next((ln for ln in (
        "".join(c for c in raw if c.isprintable()).strip() for raw in text.splitlines())
        if ln), "")
    return repr(line if len(line) <= limit else line[:limit - 3] + "...")


async def _exit_of(process: asyncssh.SSHClientProcess[bytes]) -> tuple[int | None, str]:
    try:
        await asyncio.wait_for(process.wait_closed(), 5)
    except (asyncio.TimeoutError, TimeoutError, asyncssh.Error, OSError):
        pass
    try:
        err = (await asyncio.wait_for(process.stderr.read(4096), 1)).decode(errors="replace")
    except (asyncio.TimeoutError, TimeoutError, asyncssh.Error, OSError):
        err = ""
    return process.exit_status, err.strip().splitlines()[-1] if err.strip() else ""
