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
    kind: str                # "file" | "dir" | "symlink" | "hardlink"
    st: os.stat_result
    target: str | None = None   # symlink target, or the file a hard link shares data with


@dataclass
class ScanResult:
    entries: list[FsEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped_special: list[tuple[str, str]] = field(default_factory=list)   # (rel, kind)
    _links: dict[tuple[int, int], str] = field(default_factory=dict)     # (dev, ino) -> rel
    _seen: set[str] = field(default_factory=set)

    def add(self, entry: FsEntry) -> bool:
        """Add ``entry`` unless its path is already in (overlapping includes)."""
        if entry.rel in self._seen:
            return False
        self._seen.add(entry.rel)
        self.entries.append(entry)
        return True

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

    def scan(self, scope: FileScope) -> ScanResult:
        self.check()
        result = ScanResult()
        roots = [r.strip("/") for r in scope.include] or [""]
        for rel_root in roots:
            if rel_root:
                problem = self._include_problem(rel_root)
                if problem is not None:
                    result.warnings.append(f"Included folder '{rel_root}' {problem}, skipped")
                    continue
                self._add_parents(rel_root, result)
            start = self.root / rel_root if rel_root else self.root
            self._walk(start, rel_root, scope.exclude, result)
        if result.skipped_special:
            shown = ", ".join(f"'{rel}' ({kind})" for rel, kind in result.skipped_special[:20])
            more = len(result.skipped_special) - 20
            result.notes.append(
                f"Skipped {len(result.skipped_special)} special file(s) that cannot be backed "
                f"up (FIFOs, sockets and devices): {shown}" + (f" and {more} more" if more > 0
                                                               else ""))
        return result

    def _include_problem(self, rel_root: str) -> str | None:
        """Why an included folder cannot be used, or None. Every component is
        checked without following symlinks, so an include never leads outside
        the computer's root."""
        parts = rel_root.split("/")
        if any(p in ("", ".", "..") for p in parts) or "\x00" in rel_root:
            return "is not a folder inside the computer's root"
        for i in range(1, len(parts) + 1):
            rel = "/".join(parts[:i])
            try:
                st = os.lstat(self.root / rel)
            except FileNotFoundError:
                return "does not exist"
            except OSError as exc:
                return f"cannot be read ({exc.strerror})"
            if statmod.S_ISLNK(st.st_mode) and i < len(parts):
                return f"lies under the symlink '{rel}' (symlinks are not followed)"
            if not statmod.S_ISDIR(st.st_mode) and i < len(parts):
                return "does not exist"
        return None

    def _add_parents(self, rel_root: str, result: ScanResult) -> None:
        parts = rel_root.split("/")
        for i in range(1, len(parts)):
            rel = "/".join(parts[:i])
            result.add(FsEntry(rel, "dir", os.lstat(self.root / rel)))

    def _walk(self, start: Path, rel_root: str, exclude: tuple[str, ...],
              result: ScanResult) -> None:
        """Depth-first, sorted, without following symlinks."""
        if rel_root:
            st = os.lstat(start)
            entry = self._entry(start, rel_root, st, result)
            if entry is None:
                return
            if not result.add(entry) or entry.kind != "dir":
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
                if entry is None or not result.add(entry):
                    continue
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
            if st.st_nlink > 1:
                first = result._links.setdefault((st.st_dev, st.st_ino), rel)
                if first != rel:
                    return FsEntry(rel, "hardlink", st, first)
            return FsEntry(rel, "file", st)
        # sockets, FIFOs and devices are not backed up; the task log names them
        result.skipped_special.append((rel, _special_kind(st.st_mode)))
        return None

    def open_file(self, rel: str) -> BinaryIO:
        return open(self.root / rel, "rb", buffering=0)

    def prefetch(self, rel: str) -> None:
        """Hint the kernel to start reading ``rel`` (the backup reads it soon).
        Best effort: a file that cannot be opened is reported by ``open_file``."""
        if not hasattr(os, "posix_fadvise"):   # macOS, Windows
            return
        try:
            fd = os.open(self.root / rel, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass
        finally:
            os.close(fd)


def _special_kind(mode: int) -> str:
    if statmod.S_ISFIFO(mode):
        return "FIFO"
    if statmod.S_ISSOCK(mode):
        return "socket"
    if statmod.S_ISCHR(mode):
        return "character device"
    if statmod.S_ISBLK(mode):
        return "block device"
    return "special file"


def _excluded(rel: str, name: str, masks: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, m) or fnmatch.fnmatchcase(rel, m) for m in masks)


def agent_for(computer: Computer) -> Agent:
    if computer.agent == "local":
        return LocalAgent(computer)
    raise InvalidInput(f"Computer '{computer.name}': unknown agent type '{computer.agent}'.")
