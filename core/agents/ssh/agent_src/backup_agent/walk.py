"""Walk a computer's tree: the one walker of the local agent and of the
remote agent (which ships this file, so: stdlib only, Python 3.8+).

Depth-first, sorted, never following symlinks; an include never leads
outside the root. Each entry is handed to ``emit(rel, kind, st, target)``
with kind "file" | "dir" | "symlink" | "hardlink". The kernel's pseudo file
systems (/proc, /sys, /dev, ... as listed in /proc/self/mounts when the walk
starts) are not entered: their mount points are kept, empty, and noted."""
from __future__ import annotations

import fnmatch
import os
import re
import stat as statmod
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

Emit = Callable[[str, str, os.stat_result, Optional[str]], None]

MOUNTS = "/proc/self/mounts"
PSEUDO_FS = frozenset((
    "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "securityfs", "debugfs",
    "tracefs", "pstore", "bpf", "mqueue", "hugetlbfs", "fusectl", "configfs", "autofs",
    "binfmt_misc", "efivarfs", "rpc_pipefs", "nsfs"))


class Walker:
    def __init__(self, root: str, emit: Emit) -> None:
        self.root = root
        self.emit = emit
        self.warnings: List[str] = []
        self.notes: List[str] = []
        self.skipped_special: List[Tuple[str, str]] = []
        self._links: Dict[Tuple[int, int], str] = {}
        self._seen: Set[str] = set()
        self._pseudo: Dict[str, str] = {}     # rel (or "" for the root) -> file system type
        self._noted: Set[str] = set()

    def scan(self, include: Sequence[str], exclude: Sequence[str]) -> None:
        roots = [r.strip("/") for r in include] or [""]
        exclude = tuple(exclude)
        self._pseudo = pseudo_mounts(self.root, read_mounts())
        for rel_root in roots:
            if self._in_pseudo(rel_root):
                continue
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

    def _in_pseudo(self, rel_root: str) -> bool:
        """Whether the folder lies in a pseudo file system (noted once)."""
        if not self._pseudo:
            return False
        parts = rel_root.split("/") if rel_root else []
        for rel in [""] + ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]:
            if rel in self._pseudo:
                self._note_pseudo(rel)
                return True
        return False

    def _note_pseudo(self, rel: str) -> None:
        if rel not in self._noted:
            self._noted.add(rel)
            self.notes.append(f"Skipped the contents of '{rel or self.root}': it is a "
                              f"{self._pseudo[rel]} file system (the kernel's pseudo-files, "
                              "not data on disk)")

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
                pseudo = child_rel in self._pseudo
                if pseudo:
                    self._note_pseudo(child_rel)
                    if not statmod.S_ISDIR(st.st_mode):   # e.g. nsfs, mounted on a file
                        continue
                kind = self._kind(child.path, child_rel, st)
                if kind is None or not self._add(child_rel, kind[0], st, kind[1]):
                    continue
                if kind[0] == "dir" and not pseudo:   # a pseudo mount point is kept, empty
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


def read_mounts() -> bytes:
    try:
        with open(MOUNTS, "rb") as f:
            return f.read()
    except OSError:   # not Linux, or no /proc: nothing to skip
        return b""


def pseudo_mounts(root: str, mounts: bytes) -> Dict[str, str]:
    """The pseudo file systems at or under ``root`` (relative paths, "" for
    the root itself, which may also lie inside one), with their types. A
    mount point listed again is the newest mount there (the last line)."""
    top: Dict[str, str] = {}
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            top[os.fsdecode(_unescape(fields[1]))] = os.fsdecode(fields[2])
    base = os.path.realpath(root)
    prefix = base.rstrip("/") + "/"
    found: Dict[str, str] = {}
    holding = [p for p in top if base == p or base.startswith(p.rstrip("/") + "/")]
    own = top[max(holding, key=len)] if holding else ""   # the root's own file system
    if own in PSEUDO_FS:
        found[""] = own
    for point, fstype in top.items():
        if fstype in PSEUDO_FS and point.startswith(prefix) and point != base:
            found[point[len(prefix):]] = fstype
    return found


def _unescape(field: bytes) -> bytes:
    """A path of /proc/self/mounts: space, tab, newline and backslash are
    written in octal there (\\040 ...)."""
    return re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m[1], 8)]), field)


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
