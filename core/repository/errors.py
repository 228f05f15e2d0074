"""Repository-specific error types; all are operator-facing ConsoleErrors."""
from __future__ import annotations

import errno
from pathlib import Path

from core.errors import (  # defined there, as every error that crosses the wire
    PartialRestore as PartialRestore,
    PointNotFound as PointNotFound,
)
from core.errors import RepositoryError, RestoreError
from core.process.fdlimit import out_of_descriptors, too_many_open_files


class MissingParentData(RepositoryError):
    """An unchanged file's data is no longer in the repository.

    The caller should back the file up again with ``add_file``."""


class BlobError(Exception):
    """Internal: a blob could not be read back intact."""

    def __init__(self, blob: str, pack: str | None, problem: str, detail: str = "") -> None:
        super().__init__(f"blob {blob} in pack {pack}: {problem} {detail}".strip())
        self.blob = blob
        self.pack = pack
        self.problem = problem  # "missing" | "corrupt"


def write_error(root: Path | str, exc: OSError, what: str) -> RepositoryError:
    """Turn an OSError raised while writing into the repository into an operator message."""
    if out_of_descriptors(exc):
        return RepositoryError(too_many_open_files(f"{what} in repository {root}"))
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return RepositoryError(
            f"The disk is full: repository {root} is out of space while writing {what}. Free "
            "space on that disk or keep fewer restore points, then run the job again; earlier "
            "restore points are intact."
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return RepositoryError(
            f"Repository {root} is not writable ({exc.strerror}) while writing {what}: check the "
            "folder's permissions and that its disk is mounted read-write."
        )
    return RepositoryError(
        f"Cannot write {what} to repository {root}: {exc.strerror or exc}. Check the disk, "
        "then run the job again."
    )


def read_error(root: Path | str, exc: OSError, what: str) -> RepositoryError:
    if out_of_descriptors(exc):
        return RepositoryError(too_many_open_files(f"{what} in repository {root}"))
    return RepositoryError(
        f"Cannot read {what} in repository {root}: {exc.strerror or exc}. Check that the "
        "repository disk is attached and readable."
    )


def restore_write_error(target: Path, exc: OSError, what: str) -> RestoreError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return RestoreError(
            f"The disk is full: restore target {target} is out of space while writing {what}. "
            "Free space there or restore to another folder."
        )
    return RestoreError(
        f"Cannot write {what} under restore target {target}: {exc.strerror or exc}. Check the "
        "folder's permissions or choose another target."
    )
