"""Agents read a protected computer's files. The local agent protects a
directory tree on this machine; a remote agent can implement the same
interface later."""
from __future__ import annotations

import fnmatch
import os
import stat as statmod
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from .errors import InvalidInput
from .models import Computer, FileScope


@dataclass(slots=True)
class FsEntry:
    rel: str                 # posix path relative to the computer's root
    kind: str                # "file" | "dir" | "symlink"
    st: os.stat_result
    target: str | None = None


@dataclass
class ScanResult:
    entries: list[FsEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def files(self) -> int:
        return sum(1 for e in self.entries if e.kind == "file")

    @property
    def bytes(self) -> int:
        return sum(e.st.st_size for e in self.entries if e.kind == "file")


class Agent(Protocol):
    def check(self) -> None: ...
    def scan(self, scope: FileScope) -> ScanResult: ...
    def open_file(self, rel: str) -> BinaryIO: ...


class LocalAgent:
    def __init__(self, computer: Computer) -> None:
        self.computer = computer
        self.root = Path(computer.path)

    def check(self) -> None:
        if not self.root.exists():
            raise InvalidInput(
                f"Computer '{self.computer.name}': path {self.root} does not exist. "
                "Check the computer's path in the job settings.")
        if not self.root.is_dir():
            raise InvalidInput(
                f"Computer '{self.computer.name}': path {self.root} is not a directory.")

    def scan(self, scope: FileScope) -> ScanResult:
        self.check()
        result = ScanResult()
        roots = [r.strip("/") for r in scope.include] or [""]
        for rel_root in roots:
            start = self.root / rel_root if rel_root else self.root
            if not start.exists():
                result.warnings.append(f"Included folder '{rel_root}' does not exist, skipped")
                continue
            if rel_root:
                self._add_parents(rel_root, result)
            self._walk(start, rel_root, scope.exclude, result)
        return result

    def _add_parents(self, rel_root: str, result: ScanResult) -> None:
        parts = rel_root.split("/")
        known = {e.rel for e in result.entries}
        for i in range(1, len(parts)):
            rel = "/".join(parts[:i])
            if rel not in known:
                result.entries.append(FsEntry(rel, "dir", os.lstat(self.root / rel)))

    def _walk(self, start: Path, rel_root: str, exclude: tuple[str, ...],
              result: ScanResult) -> None:
        """Depth-first, sorted, without following symlinks."""
        if rel_root:
            st = os.lstat(start)
            entry = self._entry(start, rel_root, st, result)
            if entry is None:
                return
            result.entries.append(entry)
            if entry.kind != "dir":
                return
        stack: list[tuple[Path, str]] = [(start, rel_root)]
        while stack:
            path, rel = stack.pop()
            try:
                with os.scandir(path) as it:
                    children = sorted(it, key=lambda d: d.name)
            except OSError as exc:
                result.warnings.append(
                    f"Cannot read folder '{rel or '/'}': {exc.strerror}, skipped")
                continue
            subdirs: list[tuple[Path, str]] = []
            for child in children:
                child_rel = f"{rel}/{child.name}" if rel else child.name
                if _excluded(child_rel, child.name, exclude):
                    continue
                try:
                    st = child.stat(follow_symlinks=False)
                except OSError as exc:
                    result.warnings.append(f"Cannot stat '{child_rel}': {exc.strerror}, skipped")
                    continue
                entry = self._entry(Path(child.path), child_rel, st, result)
                if entry is None:
                    continue
                result.entries.append(entry)
                if entry.kind == "dir":
                    subdirs.append((Path(child.path), child_rel))
            stack.extend(reversed(subdirs))

    @staticmethod
    def _entry(path: Path, rel: str, st: os.stat_result, result: ScanResult) -> FsEntry | None:
        if statmod.S_ISLNK(st.st_mode):
            try:
                return FsEntry(rel, "symlink", st, os.readlink(path))
            except OSError as exc:
                result.warnings.append(f"Cannot read link '{rel}': {exc.strerror}, skipped")
                return None
        if statmod.S_ISDIR(st.st_mode):
            return FsEntry(rel, "dir", st)
        if statmod.S_ISREG(st.st_mode):
            return FsEntry(rel, "file", st)
        return None  # sockets, fifos and devices are not backed up

    def open_file(self, rel: str) -> BinaryIO:
        return open(self.root / rel, "rb", buffering=0)


def _excluded(rel: str, name: str, masks: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, m) or fnmatch.fnmatchcase(rel, m) for m in masks)


def agent_for(computer: Computer) -> Agent:
    if computer.agent == "local":
        return LocalAgent(computer)
    raise InvalidInput(f"Computer '{computer.name}': unknown agent type '{computer.agent}'.")
