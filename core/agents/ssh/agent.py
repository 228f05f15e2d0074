"""The Agent of a Linux computer reached over SSH."""
from __future__ import annotations

import errno
import os
import threading
import weakref
from pathlib import Path
from collections.abc import Callable
from typing import Any, BinaryIO

from core.agents.ssh.sshlib import asyncssh

from core.agents.base import FsEntry, ScanResult
from core.models import Computer, FileScope, SshSettings
from core.paths import resolve_data_dir

from core.agents.ssh import loop
from core.agents.ssh import payload
from core.agents.ssh.agent_src.backup_agent import wire
from core.agents.ssh.agent_src.backup_agent.walk import stat_from
from core.agents.ssh.channel import AgentChannel
from core.agents.ssh.connect import CONNECT_TIMEOUT_S, HELLO_TIMEOUT_S, open_agent
from core.agents.ssh.errors import RemoteError
from core.agents.ssh.reader import RemoteReader

NATIVE_ENV = "AGENT_JOBS_SSH_NATIVE"   # "0": never ship the native modules (tests, bench)
# The server's own defaults for jobs whose SSH settings name no file
# (``agent-jobs server run --identity FILE --known-hosts FILE`` sets them).
IDENTITY_ENV = "AGENT_JOBS_SSH_IDENTITY"
KNOWN_HOSTS_ENV = "AGENT_JOBS_SSH_KNOWN_HOSTS"


def with_server_defaults(ssh: SshSettings) -> SshSettings:
    """The job's SSH settings, with the server's defaults where it names no file."""
    return ssh.model_copy(update={
        "identity_file": ssh.identity_file or os.environ.get(IDENTITY_ENV) or None,
        "known_hosts_file": ssh.known_hosts_file or os.environ.get(KNOWN_HOSTS_ENV) or None})


class SshAgent:
    """Connects on first use and keeps one connection (one agent process)
    until ``close()`` (or until it is garbage-collected)."""

    def __init__(self, computer: Computer, ssh: SshSettings = SshSettings(), *,
                 data_dir: Path | None = None, cancel: threading.Event | None = None) -> None:
        self.computer = computer
        self.target = computer.ssh_target
        ssh = with_server_defaults(ssh)
        self.settings = ssh
        self.known_hosts = Path(ssh.known_hosts_file).expanduser() if ssh.known_hosts_file \
            else (data_dir or resolve_data_dir()) / "known_hosts"
        self.cancel = cancel
        self.channel: AgentChannel | None = None
        self.python = ""
        self.native: bool | None = None   # whether the computer cuts and hashes (once known)
        self.native_problem = ""
        self.remembered_key: str | None = None
        self._finalizer: weakref.finalize[[], SshAgent] | None = None

    @property
    def where(self) -> str:
        return f"{self.target.address} (computer '{self.computer.name}')"

    def connect(self) -> AgentChannel:
        if self.channel is not None:
            return self.channel
        native = os.environ.get(NATIVE_ENV, "1") != "0"

        async def opening() -> AgentChannel:
            opened = await open_agent(self.target, self.settings, self.known_hosts, native)
            channel = AgentChannel(opened, self.target.address)
            await channel.start()
            return channel

        try:
            channel = loop.call(opening(), self.cancel,
                                timeout=CONNECT_TIMEOUT_S + 2 * HELLO_TIMEOUT_S,
                                discard=lambda late: late.close())
        except TimeoutError:
            raise RemoteError(f"{self.where} did not answer in time.") from None
        except RemoteError as exc:
            raise RemoteError(f"Computer '{self.computer.name}': {exc}") from None
        except (OSError, asyncssh.Error) as exc:   # anything connect did not name
            raise RemoteError(f"Computer '{self.computer.name}': cannot reach "
                              f"{self.target.address}: {getattr(exc, 'reason', None) or exc}"
                              ) from None
        self.channel = channel
        self._finalizer = weakref.finalize(self, channel.close)
        o = channel.opened
        self.python, self.native_problem = o.python, o.native_problem
        self.remembered_key = o.remembered_key
        return channel

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()

    # -- Agent -------------------------------------------------------------
    def check(self) -> str:
        channel = self.connect()
        channel.send_message({"t": "check", "root": self.target.path})
        reply = channel.message(self.cancel)
        if reply["t"] != "ok":
            raise self._folder_error(reply)
        return (f"Connected to {self.target.host} as {self.target.user}; {self.target.path} "
                f"is readable (Python {reply.get('python', self.python)})")

    def _folder_error(self, reply: dict[str, Any]) -> RemoteError:
        return RemoteError(f"Computer '{self.computer.name}': {self.target.path} on "
                           f"{self.target.host} {reply.get('text', 'cannot be used')}. Check the "
                           "computer's path in the job settings.")

    def scan(self, scope: FileScope) -> ScanResult:
        channel = self.connect()
        channel.send_message({"t": "scan", "root": self.target.path,
                              "include": list(scope.include), "exclude": list(scope.exclude)})
        result = ScanResult()
        append = result.entries.append
        while True:
            msg = channel.message(self.cancel)
            t = msg["t"]
            if t == "entries":
                for rel, kind, st, target in msg["e"]:
                    append(FsEntry(rel, kind, stat_from(st), target))
            elif t == "scanned":
                result.warnings = list(msg["warnings"])
                result.notes = list(msg["notes"])
                result.skipped_special = [tuple(x) for x in msg["skipped"]]
                return result
            else:
                raise self._folder_error(msg)

    prefetches = False   # the computer reads ahead itself, in its own read session
    reads_at_source = True

    def prefetch(self, rels: list[str]) -> None:
        pass

    def first_contact_note(self) -> str | None:
        if not self.remembered_key:
            return None
        return f"New host key of {self.target.host} accepted and remembered: {self.remembered_key}"

    def open_file(self, rel: str) -> BinaryIO:
        raise OSError(errno.EOPNOTSUPP, "an SSH computer's files are read by its agent", rel)

    # -- source-side reading --------------------------------------------------
    def source_reader(self, files: list[tuple[str, int]], chunker: Any,
                      missing: Callable[[list[str]], list[str]],
                      rate: float | None = None,
                      on_progress: Callable[[int], None] | None = None,
                      yield_threshold: int | None = None) -> RemoteReader:
        """Start reading ``files`` (rel, size) at the computer, in this order,
        at most ``rate`` bytes per second (the job's read rate, per computer);
        a paced read tells ``on_progress`` the bytes read so far."""
        channel = self.connect()
        if self.native is None and files:   # nothing to read: no modules to send
            self.native = self._load_native(channel)
        reader = RemoteReader(channel, self.target.path, files, chunker, missing,
                              self.cancel, raw=bool(files) and not self.native, rate=rate,
                              on_progress=on_progress, yield_threshold=yield_threshold)
        reader.start()
        return reader

    def _load_native(self, channel: AgentChannel) -> bool:
        """Load the native modules when the computer's Python can: from its
        cache, or sent (then cached there) when the cache lacks them."""
        if self.native_problem:
            return False
        channel.send_message({"t": "native", "sha256": payload.native_sha256()})
        reply = channel.message(self.cancel)
        if reply.get("t") == "native" and reply.get("missing"):
            channel.send(wire.frame(wire.NATIVE, payload.native_zip()))
            reply = channel.message(self.cancel)
        if reply.get("t") != "native" or not reply.get("ok"):
            self.native_problem = str(reply.get("problem") or reply.get("text") or "unknown")
            return False
        return True

    @property
    def wire_received(self) -> int:
        return self.channel.received if self.channel is not None else 0

    @property
    def wire_sent(self) -> int:
        return self.channel.sent if self.channel is not None else 0
