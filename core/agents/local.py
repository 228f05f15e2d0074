"""The local agent: reads a directory tree on this machine, with the one walker both agents
share (``core/agents/ssh/agent_src/backup_agent/walk.py``, also shipped to SSH computers)."""
from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Callable
from typing import Any

from core.agents.base import FsEntry, RawFile, ScanResult, SourceReader
from core.errors import InvalidInput
from core.models import Computer, FileScope
from core.agents.readahead import ReadAheadProcess
from core.agents.readahead import supported as readahead_supported
from core.agents.ssh.agent_src.backup_agent.walk import Walker

# A file replaced by a symlink or a FIFO since the scan is not followed or waited on.
_READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK


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

    prefetches = True
    reads_at_source = False
    native_problem = ""

    def source_reader(self, files: list[tuple[str, int]], chunker: Any,
                      missing: Callable[[list[str]], list[str]], rate: float | None = None,
                      on_progress: Callable[[int], None] | None = None,
                      yield_threshold: int | None = None) -> SourceReader:
        raise NotImplementedError("the server reads local files itself, through open_file")

    def first_contact_note(self) -> str | None:
        return None

    @property
    def wire_received(self) -> int:
        return 0

    @property
    def wire_sent(self) -> int:
        return 0
