"""Walk a computer's tree: the one walker of the local agent and of the
remote agent (which ships this file, so: stdlib only, Python 3.8+).

Depth-first, sorted, never following symlinks; an include never leads
outside the root. Each entry is handed to ``emit(rel, kind, st, target)``
with kind "file" | "dir" | "symlink" | "hardlink"."""
from __future__ import annotations

import fnmatch
import os
import stat as statmod
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

Emit = Callable[[str, str, os.stat_result, Optional[str]], None]


class Walker:
    def __init__(self, root: str, emit: Emit) -> None:
        self.root = root
        self.emit = emit
        self.warnings: List[str] = []
        self.notes: List[str] = []
        self.skipped_special: List[Tuple[str, str]] = []
        self._links: Dict[Tuple[int, int], str] = {}
        self._seen: Set[str] = set()

    def scan(self, include: Sequence[str], exclude: Sequence[str]) -> None:
        roots = [r.strip("/") for r in include] or [""]
        exclude = tuple(exclude)
        for rel_root in roots:
            if rel_root:
                problem = self._include_problem(rel_root)
                if problem is not None:
                    self.warnings.append(f"Included folder '{rel_root}' {problem}, skipped")
                    continue
                self._add_parents(rel_root)
            start = os.path.join(self.root, rel_root) if rel_root else self.root
            self._walk(start, rel_root, exclude)
        if self.skipped_special:
            shown = ", ".join(f"'{rel}' ({kind})" for rel, kind in self.skipped_special[:20])
            more = len(self.skipped_special) - 20
            self.notes.append(
                f"Skipped {len(self.skipped_special)} special file(s) that cannot be backed "
                f"up (FIFOs, sockets and devices): {shown}" + (f" and {more} more" if more > 0
                                                               else ""))

    def _add(self, rel: str, kind: str, st: os.stat_result, target: Optional[str]) -> bool:
        """Emit unless the path is already in (overlapping includes)."""
        if rel in self._seen:
            return False
        self._seen.add(rel)
        self.emit(rel, kind, st, target)
        return True

    def _include_problem(self, rel_root: str) -> Optional[str]:
        """Why an included folder cannot be used, or None. Every component is
        checked without following symlinks."""
        parts = rel_root.split("/")
        if any(p in ("", ".", "..") for p in parts) or "\x00" in rel_root:
            return "is not a folder inside the computer's root"
        for i in range(1, len(parts) + 1):
            rel = "/".join(parts[:i])
            try:
                st = os.lstat(os.path.join(self.root, rel))
            except FileNotFoundError:
                return "does not exist"
            except OSError as exc:
                return f"cannot be read ({exc.strerror})"
            if statmod.S_ISLNK(st.st_mode) and i < len(parts):
                return f"lies under the symlink '{rel}' (symlinks are not followed)"
            if not statmod.S_ISDIR(st.st_mode) and i < len(parts):
                return "does not exist"
        return None

    def _add_parents(self, rel_root: str) -> None:
        parts = rel_root.split("/")
        for i in range(1, len(parts)):
            rel = "/".join(parts[:i])
            self._add(rel, "dir", os.lstat(os.path.join(self.root, rel)), None)

    def _walk(self, start: str, rel_root: str, exclude: Tuple[str, ...]) -> None:
        if rel_root:
            st = os.lstat(start)
            kind = self._kind(start, rel_root, st)
            if kind is None:
                return
            if not self._add(rel_root, kind[0], st, kind[1]) or kind[0] != "dir":
                return
        stack: List[Tuple[str, str]] = [(start, rel_root)]
        while stack:
            path, rel = stack.pop()
            try:
                with os.scandir(path) as it:
                    children = sorted(it, key=lambda d: d.name)
            except OSError as exc:
                self.warnings.append(
                    f"Cannot read folder '{rel or '/'}': {exc.strerror}, skipped")
                continue
            subdirs: List[Tuple[str, str]] = []
            for child in children:
                child_rel = f"{rel}/{child.name}" if rel else child.name
                if exclude and _excluded(child_rel, child.name, exclude):
                    continue
                try:
                    st = child.stat(follow_symlinks=False)
                except OSError as exc:
                    self.warnings.append(f"Cannot stat '{child_rel}': {exc.strerror}, skipped")
                    continue
                kind = self._kind(child.path, child_rel, st)
                if kind is None or not self._add(child_rel, kind[0], st, kind[1]):
                    continue
                if kind[0] == "dir":
                    subdirs.append((child.path, child_rel))
            stack.extend(reversed(subdirs))

    def _kind(self, path: str, rel: str, st: os.stat_result
              ) -> Optional[Tuple[str, Optional[str]]]:
        mode = st.st_mode
        if statmod.S_ISLNK(mode):
            try:
                return "symlink", os.readlink(path)
            except OSError as exc:
                self.warnings.append(f"Cannot read link '{rel}': {exc.strerror}, skipped")
                return None
        if statmod.S_ISDIR(mode):
            return "dir", None
        if statmod.S_ISREG(mode):
            if st.st_nlink > 1:
                first = self._links.setdefault((st.st_dev, st.st_ino), rel)
                if first != rel:
                    return "hardlink", first
            return "file", None
        # sockets, FIFOs and devices are not backed up; the task log names them
        self.skipped_special.append((rel, special_kind(mode)))
        return None


def special_kind(mode: int) -> str:
    if statmod.S_ISFIFO(mode):
        return "FIFO"
    if statmod.S_ISSOCK(mode):
        return "socket"
    if statmod.S_ISCHR(mode):
        return "character device"
    if statmod.S_ISBLK(mode):
        return "block device"
    return "special file"


def _excluded(rel: str, name: str, masks: Tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, m) or fnmatch.fnmatchcase(rel, m) for m in masks)


def stat_fields(st: os.stat_result) -> List[int]:
    """What the server needs of a stat, as plain numbers (see ``stat_from``)."""
    return [st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid, st.st_size,
            st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns]


def stat_from(f: Sequence[int]) -> os.stat_result:
    """An ``os.stat_result`` from ``stat_fields`` (times in seconds and in ns)."""
    a, m, c = f[7], f[8], f[9]
    return os.stat_result((f[0], f[1], f[2], f[3], f[4], f[5], f[6], a // 10**9, m // 10**9,
                           c // 10**9, a / 1e9, m / 1e9, c / 1e9, a, m, c))
