"""Repository-specific error types; all are operator-facing ConsoleErrors."""
from __future__ import annotations

import errno
from pathlib import Path

from core.errors import NotFound, RepositoryError, RestoreError


class PointNotFound(NotFound, RepositoryError):
    """The restore point does not exist (never committed, or forgotten)."""


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


def write_error(root: Path, exc: OSError, what: str) -> RepositoryError:
    """Turn an OSError raised while writing into the repository into an operator message."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return RepositoryError(
            f"Repository {root} is out of disk space while writing {what}: free space on that "
            "disk or forget old restore points and prune, then run the job again."
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


def read_error(root: Path, exc: OSError, what: str) -> RepositoryError:
    return RepositoryError(
        f"Cannot read {what} in repository {root}: {exc.strerror or exc}. Check that the "
        "repository disk is attached and readable."
    )


def restore_write_error(target: Path, exc: OSError, what: str) -> RestoreError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return RestoreError(
            f"The restore target {target} is out of disk space while writing {what}: free "
            "space there or restore to another folder."
        )
    return RestoreError(
        f"Cannot write {what} under restore target {target}: {exc.strerror or exc}. Check the "
        "folder's permissions or choose another target."
    )
