"""What the engine may ask of an agent, the one thing that reads a protected computer.

The :class:`Agent` protocol is complete (restic's ``fs.FS``): the engine never asks which agent it
holds. An agent that cannot do something optional says so through the protocol — ``prefetches``
is False, ``reads_at_source`` is False, ``first_contact_note`` returns None — instead of lacking
the member. Both agents and everything they share (``FsEntry``, ``ScanResult``, ``RawFile``,
``Cancelled``, ``SourceFileError``) live here, below both, so neither imports the other.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

from core.models import FileScope


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


class SourceFileError(Exception):
    """One file could not be read at the source (the backup goes on without it)."""

    def __init__(self, strerror: str) -> None:
        super().__init__(strerror)
        self.strerror = strerror


class SourceFile(Protocol):
    """One file as a source reader delivers it: its stat, then its blocks or, raw, its bytes,
    then ``end`` (whether it stayed the same while read)."""
    raw: bool
    error: str | None
    st: os.stat_result

    @property
    def end(self) -> Any: ...


class SourceReader(Protocol):
    """A read at the source: files in the order asked, cut and hashed there unless ``raw``."""
    raw: bool
    #: told an SSH computer's governor figures as they come (yield to production)
    on_governor: Callable[[dict[str, Any]], None] | None

    def next_file(self) -> Any: ...
    def finish(self) -> dict[str, Any]: ...


class Agent(Protocol):
    #: whether read-ahead hints (``prefetch``) help this agent
    prefetches: bool
    #: whether the computer reads, cuts and hashes its files itself (``source_reader``); if not,
    #: the server reads them through ``open_file``
    reads_at_source: bool
    #: why the computer cannot cut and hash its files itself ("" when it can, or for the local agent)
    native_problem: str

    def check(self) -> str:
        """Connect if needed and check the computer's root: a one-line description, or raise."""
    def scan(self, scope: FileScope) -> ScanResult:
        """Every entry the scope selects, with warnings and notes for the task log."""
    def open_file(self, rel: str) -> RawFile | BinaryIO:
        """Open a file for the server to read (raises OSError); an agent that reads at the
        source raises EOPNOTSUPP and serves ``source_reader`` instead."""
    def prefetch(self, rels: list[str]) -> None:
        """Hint that ``rels`` are read next, in this order; may do nothing."""
    def source_reader(self, files: list[tuple[str, int]], chunker: Any,
                      missing: Callable[[list[str]], list[str]], rate: float | None = None,
                      on_progress: Callable[[int], None] | None = None,
                      yield_threshold: int | None = None) -> SourceReader:
        """Start reading ``files`` (rel, size) at the computer, in this order, at most ``rate``
        bytes per second, yielding to production (the computer's own pressure, percent) when
        ``yield_threshold`` is given; only for an agent that ``reads_at_source``."""
    def first_contact_note(self) -> str | None:
        """A note for the task log about the first contact (a host key learnt), or None."""
    @property
    def wire_received(self) -> int:
        """Bytes received from the computer over the network (0 for the local agent)."""
    @property
    def wire_sent(self) -> int:
        """Bytes sent to the computer over the network (0 for the local agent)."""
    def close(self) -> None:
        """Release connections and helpers; the agent is not used again."""
