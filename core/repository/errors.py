"""Repository-specific error types; all are operator-facing ConsoleErrors."""
from __future__ import annotations

import errno
from pathlib import Path

from typing import TYPE_CHECKING

from core.errors import NotFound, RepositoryError, RestoreError
from core.process.fdlimit import out_of_descriptors, too_many_open_files

if TYPE_CHECKING:
    from core.repository.model import RestoreStats


class PointNotFound(NotFound, RepositoryError):
    """The restore point does not exist (never committed, or forgotten)."""


class MissingParentData(RepositoryError):
    """An unchanged file's data is no longer in the repository.

    The caller should back the file up again with ``add_file``."""


class PartialRestore(RestoreError):
    """Some files could not be restored exactly; they were not written, every
    other file was. ``stats`` says what was restored and what was not."""

    def __init__(self, stats: RestoreStats, unindexed_packs: int = 0) -> None:
        failed = stats.failed
        names = ", ".join(f"{path!r} ({why})" for path, why in failed)
        advice = (
            f"The repository has {unindexed_packs} pack file(s) that its index does not list "
            "(an index file was lost), which may hold those blocks: run 'agent-jobs repair' "
            "to rebuild the index from the packs, then restore again."
            if unindexed_packs else
            "Run 'agent-jobs verify': the next backup of that computer stores good copies of "
            "damaged blocks, or restore an older point.")
        super().__init__(
            f"Restore of point {stats.point_id} to {stats.target} is incomplete: {len(failed)} "
            f"file(s) could not be restored exactly and were not written: {names}. The other "
            f"{stats.files} file(s) were restored. {advice}"
        )
        self.stats = stats


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
