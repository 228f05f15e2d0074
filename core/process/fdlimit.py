"""Telling "too many open files" apart from a missing disk.

When a process reaches its descriptor limit (RLIMIT_NOFILE), every open fails
with EMFILE; SQLite reports that only as "unable to open database file", which
reads like a detached disk. These helpers name the real problem and its fix.
"""
from __future__ import annotations

import errno
import os
import resource

_EXHAUSTED = (errno.EMFILE, errno.ENFILE)
_MARGIN = 4   # descriptors this close to the limit count as exhausted


def open_files_limit() -> int:
    """The process's soft limit on open files."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def open_files() -> int:
    """How many descriptors the process holds now (-1 if /proc cannot say)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1


def out_of_descriptors(exc: BaseException | None = None) -> bool:
    """Whether ``exc`` (or, for errors that carry no errno, such as SQLite's
    CANTOPEN, the process's state right now) means the descriptor limit is reached."""
    if isinstance(exc, OSError):
        return exc.errno in _EXHAUSTED
    try:
        fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as probe:
        return probe.errno in _EXHAUSTED
    os.close(fd)
    limit = open_files_limit()
    return limit != resource.RLIM_INFINITY and open_files() >= limit - _MARGIN


def too_many_open_files(what: object) -> str:
    """The operator's line for an open of ``what`` that failed with EMFILE."""
    limit = open_files_limit()
    shown = "unlimited" if limit == resource.RLIM_INFINITY else str(limit)
    held = open_files()
    count = f"{held} open, " if held >= 0 else ""
    return (f"Too many open files: this process ({count}limit {shown}) could not open {what}. "
            "Raise the limit (LimitNOFILE= in the systemd unit, or 'ulimit -n' before "
            "starting the server), then restart the server.")
