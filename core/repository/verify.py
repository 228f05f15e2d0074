"""Re-reading what a set of points needs, or the whole repository.

A point verify re-reads, decompresses and re-hashes every block the points use.
A full verify also reads every pack completely (header, every blob, trailer)
and every index file, so that any changed byte anywhere is found. Damaged
copies are recorded (see damage) and left out of the index at once: if a good
copy of the block exists the points using it are intact, otherwise the next
backup that reads the same data stores a good copy.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TypeVar

from core.errors import RepositoryError

from core.repository import immutability
from core.repository.damage import DamageRegistry
from core.repository.errors import BlobError
from core.repository.index import Index, entries_by_pack
from core.repository.layout import Layout
from core.repository.model import BlobProblem, Manifest
from core.repository.packfile import BlobLoc, PackCheck, PackReader, check_pack_or_error

REPAIR_HINT = "run 'agent-jobs repair'"
ENTRY_LIST = "(the point's list of files)"   # the "path" using an entry blob
_T = TypeVar("_T")


class VerifyProblems(list[BlobProblem]):
    """The problems found, plus what was checked.

    A point whose manifest cannot be read appears with an empty ``blob`` and
    ``problem`` "manifest corrupt" or "manifest missing". Damage that no
    checked point depends on (an index file, a pack's structure, a block no
    point uses or that has a good copy elsewhere) appears with an empty
    ``point_id`` and the sentence in ``detail``."""

    points_checked: int = 0
    blobs_checked: int = 0
    packs_checked: int = 0
    bytes_checked: int = 0   # stored bytes of the blocks the points use, read back


@dataclass
class _Run:
    layout: Layout
    index: Index
    damage: DamageRegistry
    reader: PackReader
    pool: ThreadPoolExecutor
    bad: dict[tuple[str, str], str] = field(default_factory=dict)       # (blob, pack) -> problem
    good: set[tuple[str, str]] = field(default_factory=set)
    repo_problems: list[BlobProblem] = field(default_factory=list)
    # Hooks for recorded verifies: packs read so far / to read, and a cancel check.
    progress: Callable[[int, int], None] | None = None
    cancel: Callable[[], bool] | None = None
    done: int = 0
    total: int = 0

    def planned(self, packs: int) -> None:
        self.total += packs
        if self.progress is not None:
            self.progress(self.done, self.total)

    def step(self) -> None:
        """One pack read; raises VerifyCancelled when cancel() turned true."""
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)
        if self.cancel is not None and self.cancel():
            raise VerifyCancelled("The verify was cancelled; what was read so far is intact "
                                  "as far as it was checked.")


class VerifyCancelled(RepositoryError):
    """A verify stopped early at its caller's request."""


def _results(run: _Run, futures: list[Future[_T]]) -> Iterator[_T]:
    """Each future's result in order, one progress step each; on cancel (or
    any error) the futures not started are dropped and the running ones
    awaited, so nothing reads a pack after the verify returns."""
    try:
        for fut in futures:
            yield fut.result()
            run.step()
    finally:
        for fut in futures:
            fut.cancel()
        wait(futures)


def _blob_users(manifests: list[Manifest]) -> dict[str, dict[str, list[str]]]:
    """blob -> point id -> paths of that point using the blob."""
    users: dict[str, dict[str, list[str]]] = {}
    for m in manifests:
        pid = m.meta.id
        for blob in m.entry_blobs:   # format 3: the rows themselves
            users.setdefault(blob, {}).setdefault(pid, []).append(ENTRY_LIST)
        for e in m.entries:
            for blob in e.blocks:
                paths = users.setdefault(blob, {}).setdefault(pid, [])
                if not paths or paths[-1] != e.path:
                    paths.append(e.path)
    return users


def _check_blobs(reader: PackReader, blobs: list[tuple[str, BlobLoc]]
                 ) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """(bad (blob, pack, problem), good (blob, pack)) for blobs of one pack."""
    bad: list[tuple[str, str, str]] = []
    good: list[tuple[str, str]] = []
    ordered = sorted(blobs, key=lambda b: b[1].offset)
    for i, (blob, loc) in enumerate(ordered):
        try:
            reader.read(blob, loc)
            good.append((blob, loc.pack))
        except BlobError as exc:
            bad.append((blob, loc.pack, exc.problem))
            if exc.problem == "missing":  # the whole pack is gone
                bad.extend((b, loc.pack, "missing") for b, _ in ordered[i + 1:])
                break
    return bad, good


def _repo_problem(detail: str, blob: str = "", pack: str | None = None,
                  problem: str = "damaged") -> BlobProblem:
    return BlobProblem("", blob, pack, problem, [], detail)


def _rejected_versions(layout: Layout, damage: DamageRegistry) -> list[BlobProblem]:
    """An immutable repository's objects whose newer locked version failed its
    check: the older locked version is read, the newer one was rejected."""
    found = []
    for name, (rejected, kept, why) in sorted(damage.rejected_objects().items()):
        pack = name.rsplit("/", 1)[-1].removesuffix(".pack") if name.startswith("packs/") \
            else None
        found.append(_repo_problem(
            f"{layout.describe(name)}: a newer version ({rejected}) was written over it and "
            f"rejected, since it fails its check ({why}); the older locked version {kept} is "
            "read instead and is intact. Someone holding the storage keys wrote it: change "
            "the S3 keys", problem=immutability.REJECTED, pack=pack))
    return found


def _check_all_packs(run: _Run) -> int:
    """Read every index file and every pack in full; fill run.bad and run.good."""
    layout = run.layout
    listed = entries_by_pack(layout, layout.list_index_ids(),
                             lambda exc: run.repo_problems.append(_repo_problem(str(exc))))
    on_disk = layout.list_packs()

    def one(pack_id: str) -> tuple[str, PackCheck | OSError]:
        return pack_id, check_pack_or_error(layout, pack_id, listed.get(pack_id))

    run.planned(len(on_disk))
    for pack_id, result in _results(run, [run.pool.submit(one, p) for p in sorted(on_disk)]):
        path = layout.describe(layout.pack(pack_id))
        if isinstance(result, OSError):
            run.repo_problems.append(_repo_problem(
                f"pack {path} cannot be read ({result.strerror or result})", pack=pack_id))
            for blob, _ in listed.get(pack_id, []):
                run.bad[(blob, pack_id)] = "missing"
            continue
        bad = dict(result.bad)
        if result.problem:
            run.repo_problems.append(_repo_problem(
                f"pack {path} is damaged: {result.problem}; {REPAIR_HINT} to salvage its "
                "intact blocks", pack=pack_id))
        known = set(result.entries) if result.entries is not None else None
        for blob, loc in listed.get(pack_id, []):
            if known is not None and (blob, loc) not in known:
                bad.setdefault(blob, "corrupt")
                run.repo_problems.append(_repo_problem(
                    f"the index places block {blob} in pack {pack_id} where the pack does not "
                    f"hold it; {REPAIR_HINT}", blob, pack_id))
        for blob, problem in bad.items():
            run.bad[(blob, pack_id)] = problem
        for blob, _ in (result.entries or listed.get(pack_id, [])):
            if blob not in bad:
                run.good.add((blob, pack_id))
    for pack_id, entries in listed.items():
        if pack_id not in on_disk:
            for blob, _ in entries:
                run.bad[(blob, pack_id)] = "missing"
    return len(on_disk)


def _resolve_used(run: _Run, used: list[str]) -> None:
    """Read each used block at its index location until a good copy is found
    or none is left; every damaged copy met on the way is recorded."""
    pending = used
    for _ in range(8):   # each round drops at least one damaged copy per block
        by_pack: dict[str, list[tuple[str, BlobLoc]]] = {}
        blobs = run.index.blobs
        for blob in pending:
            loc = blobs.get(blob)
            if loc is not None and (blob, loc.pack) not in run.good:
                by_pack.setdefault(loc.pack, []).append((blob, loc))
        if not by_pack:
            return
        run.planned(len(by_pack))
        futures = [run.pool.submit(_check_blobs, run.reader, b) for b in by_pack.values()]
        new_bad: list[tuple[str, str, str]] = []
        for bad, good in _results(run, futures):
            new_bad.extend(bad)
            run.good.update(good)
        if not new_bad:
            return
        for blob, pack, problem in new_bad:
            run.bad[(blob, pack)] = problem
        run.damage.update(add=new_bad)
        run.index.refresh(full=True)
        pending = [b for b, _, _ in new_bad]


def verify_repository(
    layout: Layout,
    index: Index,
    damage: DamageRegistry,
    reader: PackReader,
    pool: ThreadPoolExecutor,
    manifests: list[Manifest],
    broken_points: dict[str, str],
    missing_points: list[str],
    *,
    full: bool,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> VerifyProblems:
    run = _Run(layout, index, damage, reader, pool, progress=progress, cancel=cancel)
    packs_checked = 0
    if full:
        packs_checked = _check_all_packs(run)
        checked_packs = {p for _, p in run.good} | {p for _, p in run.bad}
        stale = [pair for pair in damage.pairs
                 if pair[1] in checked_packs and pair in run.good]
        if damage.update(add=[(b, p, why) for (b, p), why in run.bad.items()], remove=stale):
            index.refresh(full=True)
        for index_id, why in index.problems.items():
            if not any(why == p.detail for p in run.repo_problems):
                run.repo_problems.append(_repo_problem(why))
    users = _blob_users(manifests)
    _resolve_used(run, list(users))

    problems = VerifyProblems()
    for pid, why in sorted(broken_points.items()):
        problems.append(BlobProblem(pid, "", None, "manifest corrupt", [], why))
    for pid in sorted(missing_points):
        problems.append(BlobProblem(pid, "", None, "manifest missing", [],
                                    f"the manifest of restore point {pid} is missing"))
    blobs = index.blobs
    reported: set[tuple[str, str]] = set()
    for blob, points in users.items():
        if blob in blobs:
            continue
        copies = [(p, why) for (b, p), why in run.bad.items() if b == blob]
        copies += [(p, damage.problem(b, p) or "corrupt") for b, p in damage.pairs
                   if b == blob and (b, p) not in run.bad]
        pack, problem = copies[0] if copies else (None, "missing")
        reported.update((blob, p) for p, _ in copies)
        for pid, paths in points.items():
            problems.append(BlobProblem(pid, blob, pack, problem, paths))
    for (blob, pack), problem in sorted(run.bad.items()):
        if (blob, pack) in reported:
            continue
        where = blobs.get(blob)
        why = (f"a good copy is in pack {where.pack}" if where is not None
               else "no checked restore point uses it")
        problems.append(_repo_problem(
            f"block {blob} in pack {pack} is {problem} ({why}); {REPAIR_HINT} to drop the "
            "damaged copy", blob, pack, problem))
    if any(p.problem == "missing" and p.pack is None and p.blob for p in problems):
        unindexed = index.unindexed_packs()
        if unindexed:   # a lost index file: the blocks may well be there
            problems.append(_repo_problem(
                f"{len(unindexed)} pack file(s) are not listed in the repository's index (an "
                f"index file was lost) and may hold the missing blocks; {REPAIR_HINT} to "
                "rebuild the index from the packs"))
    problems.extend(run.repo_problems)
    problems.extend(_rejected_versions(layout, damage))
    problems.sort(key=lambda p: (p.point_id == "", p.point_id, p.paths[:1], p.blob, p.detail))
    problems.points_checked = len(manifests) + len(broken_points) + len(missing_points)
    problems.blobs_checked = len(users)
    problems.packs_checked = packs_checked
    problems.bytes_checked = sum(loc.length for blob in users
                                 if (loc := blobs.get(blob)) is not None)
    return problems


def light_verify_repository(
    layout: Layout,
    index: Index,
    damage: DamageRegistry,
    manifests: list[Manifest],
    broken_points: dict[str, str],
    missing_points: list[str],
    *,
    cancel: Callable[[], bool] | None = None,
) -> VerifyProblems:
    """The light health check: every object the points need is listed and
    large enough (each block's pack exists and reaches past the block's end),
    from one listing of the packs; no pack data is read. A block whose pack is
    gone or too short is recorded as damaged (so the next backup that reads
    the same data stores it again) and reported like a point verify would."""
    users = _blob_users(manifests)
    on_disk = layout.list_packs()
    if cancel is not None and cancel():
        raise VerifyCancelled("The health check was cancelled: nothing was checked.")
    bad: dict[tuple[str, str], str] = {}
    pending = list(users)
    for _ in range(8):   # a copy found missing is left out; another copy may exist
        blobs = index.blobs
        found: list[tuple[str, str, str]] = []
        for blob in pending:
            loc = blobs.get(blob)
            if loc is None:
                continue
            size = on_disk.get(loc.pack)
            if size is None:
                found.append((blob, loc.pack, "missing"))
            elif size < loc.offset + loc.length:
                found.append((blob, loc.pack, "truncated"))
        if not found:
            break
        for blob, pack, problem in found:
            bad[(blob, pack)] = problem
        damage.update(add=found)
        index.refresh(full=True)
        pending = [b for b, _, _ in found]
    problems = VerifyProblems()
    for pid, why in sorted(broken_points.items()):
        problems.append(BlobProblem(pid, "", None, "manifest corrupt", [], why))
    for pid in sorted(missing_points):
        problems.append(BlobProblem(pid, "", None, "manifest missing", [],
                                    f"the manifest of restore point {pid} is missing"))
    blobs = index.blobs
    for blob, points in users.items():
        if blob in blobs:
            continue
        copies = [(p, why) for (b, p), why in bad.items() if b == blob]
        copies += [(p, damage.problem(b, p) or "corrupt") for b, p in damage.pairs
                   if b == blob and (b, p) not in bad]
        where: str | None = copies[0][0] if copies else None
        problem = copies[0][1] if copies else "missing"
        for pid, paths in points.items():
            problems.append(BlobProblem(pid, blob, where, problem, paths))
    problems.extend(_rejected_versions(layout, damage))
    problems.sort(key=lambda p: (p.point_id == "", p.point_id, p.paths[:1], p.blob, p.detail))
    problems.points_checked = len(manifests) + len(broken_points) + len(missing_points)
    problems.blobs_checked = len(users)
    return problems
