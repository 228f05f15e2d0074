"""Agents read a protected computer's files: the local agent a directory
tree on this machine, the SSH agent (core.remote) a Linux computer reached
over SSH, where files are cut and hashed at the source."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from .errors import InvalidInput
from .models import Computer, FileScope, SshSettings
from .remote.agent_src.backup_agent.walk import Walker


class Cancelled(Exception):
    """Raised inside a task when the session is stopped immediately."""


@dataclass(slots=True)
class FsEntry:
    rel: str                 # posix path relative to the computer's root
    kind: str                # "file" | "dir" | "symlink" | "hardlink"
    st: os.stat_result
    target: str | None = None   # symlink target, or the file a hard link shares data with


@dataclass
class ScanResult:
    entries: list[FsEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped_special: list[tuple[str, str]] = field(default_factory=list)   # (rel, kind)

    @property
    def files(self) -> int:
        return sum(1 for e in self.entries if e.kind == "file")

    @property
    def bytes(self) -> int:
        return sum(e.st.st_size for e in self.entries if e.kind == "file")


class Agent(Protocol):
    def check(self) -> str: ...
    def scan(self, scope: FileScope) -> ScanResult: ...
    def open_file(self, rel: str) -> BinaryIO: ...
    def close(self) -> None: ...


class LocalAgent:
    def __init__(self, computer: Computer) -> None:
        self.computer = computer
        self.root = Path(computer.path)
        self._prefix = os.path.join(computer.path, "")   # root + "/": joined with str +
        self._ahead: dict[str, int] = {}   # rel -> descriptor opened by prefetch

    def check(self) -> str:
        try:
            exists = self.root.exists()
        except OSError as exc:   # a name too long, a loop of symlinks, ...
            raise InvalidInput(
                f"Computer '{self.computer.name}': path {str(self.root)[:200]} cannot be used: "
                f"{exc.strerror or exc}.") from None
        if not exists:
            raise InvalidInput(
                f"Computer '{self.computer.name}': path {self.root} does not exist. "
                "Check the computer's path in the job settings.")
        if not self.root.is_dir():
            raise InvalidInput(
                f"Computer '{self.computer.name}': path {self.root} is not a directory.")
        return f"{self.root} is a folder on this machine"

    def close(self) -> None:
        ahead, self._ahead = self._ahead, {}
        for fd in ahead.values():
            os.close(fd)

    def scan(self, scope: FileScope) -> ScanResult:
        self.check()
        result = ScanResult()
        append = result.entries.append
        walker = Walker(str(self.root),
                        lambda rel, kind, st, target: append(FsEntry(rel, kind, st, target)))
        walker.scan(scope.include, scope.exclude)
        result.warnings, result.notes = walker.warnings, walker.notes
        result.skipped_special = walker.skipped_special
        return result

    def open_file(self, rel: str) -> BinaryIO:
        fd = self._ahead.pop(rel, None)
        if fd is not None:   # opened by prefetch: no second path lookup
            return open(fd, "rb", buffering=0)
        return open(self._prefix + rel, "rb", buffering=0)

    def prefetch(self, rel: str) -> None:
        """Hint the kernel to start reading ``rel`` (the backup reads it soon),
        keeping the descriptor for ``open_file``. Best effort: a file that
        cannot be opened here is reported by ``open_file``."""
        if not hasattr(os, "posix_fadvise") or rel in self._ahead:   # macOS, Windows
            return
        try:
            fd = os.open(self._prefix + rel,
                         os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass
        self._ahead[rel] = fd


def agent_for(computer: Computer, ssh: SshSettings = SshSettings(), *,
              data_dir: Path | None = None, cancel: threading.Event | None = None) -> Agent:
    """The agent that reads ``computer``. An SSH computer's agent connects on
    first use (``check``, ``scan``); ``ssh`` says how, and its known_hosts
    file defaults to ``data_dir``/known_hosts. ``cancel`` makes its waits
    end with Cancelled once set. Call ``close()`` when done."""
    if computer.agent == "local":
        return LocalAgent(computer)
    if computer.agent == "ssh":
        from .remote.ssh_agent import SshAgent

        return SshAgent(computer, ssh, data_dir=data_dir, cancel=cancel)
    raise InvalidInput(f"Computer '{computer.name}': unknown agent type '{computer.agent}'.")
