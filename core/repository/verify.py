"""Re-reading every blob a set of points references."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from .errors import BlobError
from .model import BlobProblem, Manifest
from .packfile import BlobLoc, PackReader


class VerifyProblems(list[BlobProblem]):
    """The problems found, plus what was checked.

    A point whose manifest cannot be read appears as a problem with an empty
    ``blob`` and ``problem == "corrupt"``."""

    points_checked: int = 0
    blobs_checked: int = 0


def _blob_users(manifests: list[Manifest]) -> dict[str, dict[str, list[str]]]:
    """blob -> point id -> paths of that point using the blob."""
    users: dict[str, dict[str, list[str]]] = {}
    for m in manifests:
        pid = m.meta.id
        for e in m.entries:
            for blob in e.blocks:
                paths = users.setdefault(blob, {}).setdefault(pid, [])
                if not paths or paths[-1] != e.path:
                    paths.append(e.path)
    return users


def _check_pack(
    reader: PackReader, blobs: list[tuple[str, BlobLoc]]
) -> list[tuple[str, str, str]]:
    """(blob, pack, problem) for every bad blob of one pack."""
    bad: list[tuple[str, str, str]] = []
    for blob, loc in sorted(blobs, key=lambda b: b[1].offset):
        try:
            reader.read(blob, loc)
        except BlobError as exc:
            bad.append((blob, loc.pack, exc.problem))
            if exc.problem == "missing":  # the whole pack is gone
                bad.extend((b, loc.pack, "missing") for b, _ in blobs if b != blob)
                break
    return bad


def verify_manifests(
    manifests: list[Manifest],
    broken_points: list[str],
    index: dict[str, BlobLoc],
    reader: PackReader,
    pool: ThreadPoolExecutor,
) -> VerifyProblems:
    users = _blob_users(manifests)
    by_pack: dict[str, list[tuple[str, BlobLoc]]] = {}
    bad: list[tuple[str, str | None, str]] = []
    for blob in users:
        loc = index.get(blob)
        if loc is None:
            bad.append((blob, None, "missing"))
        else:
            by_pack.setdefault(loc.pack, []).append((blob, loc))
    futures = [pool.submit(_check_pack, reader, blobs) for blobs in by_pack.values()]
    for fut in futures:
        bad.extend(fut.result())

    problems = VerifyProblems(
        BlobProblem(pid, "", None, "corrupt", []) for pid in broken_points
    )
    for blob, pack, problem in bad:
        for pid, paths in users[blob].items():
            problems.append(BlobProblem(pid, blob, pack, problem, paths))
    problems.sort(key=lambda p: (p.point_id, p.paths[:1], p.blob))
    problems.points_checked = len(manifests) + len(broken_points)
    problems.blobs_checked = len(users)
    return problems
