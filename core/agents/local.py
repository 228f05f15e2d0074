"""Agents read a protected computer's files: the local agent a directory
tree on this machine, the SSH agent (core.agents.ssh) a Linux computer reached
over SSH, where files are cut and hashed at the source."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from core.errors import InvalidInput
from core.models import Computer, FileScope, SshSettings
from core.agents.readahead import ReadAheadProcess
from core.agents.readahead import supported as readahead_supported
from core.agents.ssh.agent_src.backup_agent.walk import Walker


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


# A file replaced by a symlink or a FIFO since the scan is not followed or waited on.
_READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK


class RawFile:
    """An open file read with plain system calls: the backup reads each file
    once, whole, into its own buffer, and ``open()``'s file object would add
    a stat per file for nothing (its checks and buffering are not used)."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def readinto(self, view: memoryview) -> int:
        return os.readv(self.fd, (view,))

    def read(self, size: int) -> bytes:
        return os.read(self.fd, size)

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> RawFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Agent(Protocol):
    def check(self) -> str: ...
    def scan(self, scope: FileScope) -> ScanResult: ...
    def open_file(self, rel: str) -> RawFile: ...
    def close(self) -> None: ...


class LocalAgent:
    def __init__(self, computer: Computer) -> None:
        self.computer = computer
        self.root = Path(computer.path)
        self._prefix = os.path.join(computer.path, "")   # root + "/": joined with str +
        self._ahead = ReadAheadProcess(self._prefix) if readahead_supported() else None

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
        if self._ahead is not None:
            self._ahead.close()

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

    def open_file(self, rel: str) -> RawFile:
        return RawFile(os.open(self._prefix + rel, _READ_FLAGS))

    def prefetch(self, rels: list[str]) -> None:
        """Hint that ``rels`` are read next, in this order (see core.agents.readahead)."""
        if self._ahead is not None:
            self._ahead.hint(rels)


def agent_for(computer: Computer, ssh: SshSettings = SshSettings(), *,
              data_dir: Path | None = None, cancel: threading.Event | None = None) -> Agent:
    """The agent that reads ``computer``. An SSH computer's agent connects on
    first use (``check``, ``scan``); ``ssh`` says how, and its known_hosts
    file defaults to ``data_dir``/known_hosts. ``cancel`` makes its waits
    end with Cancelled once set. Call ``close()`` when done."""
    if computer.agent == "local":
        return LocalAgent(computer)
    if computer.agent == "ssh":
        from core.agents.ssh.agent import SshAgent

        return SshAgent(computer, ssh, data_dir=data_dir, cancel=cancel)
    raise InvalidInput(f"Computer '{computer.name}': unknown agent type '{computer.agent}'.")
