"""Verify and repair as the front ends see them, shared by the server
(:mod:`core.service.facade`) and the server-less read-only access (:mod:`core.service.offline`).

The repository finds the damage; this module turns it into the facade's
reports and into the ``damaged`` note the catalogue keeps per restore point
(shown by ``agent-jobs points``)."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from core.api import VerifyReport
from core.models import VerifyProblem
from core.models import RepairReport
from core.repository import RepairReport as RepoRepairReport
from core.repository import BlobProblem, Repository, VerifyProblems

# Why a point is damaged, as the catalogue records it. The manifest kinds are
# re-checked at every server start; data damage by verify and repair.
MANIFEST_DAMAGE = "manifest"
MANIFEST_MISSING = "manifest missing"
MANIFEST_UNREADABLE = "manifest unreadable"
DATA_DAMAGED = "data damaged"
HEAL = "the next backup of that computer stores good copies of the damaged blocks"
HEAL_HINT = f"{HEAL}; restore an older point meanwhile"   # when its other points are unknown
SHOWN_POINTS = 5


@dataclass(frozen=True)
class Sibling:
    """Another catalogued point of the same job and computer (in the same repository)."""

    id: str
    label: str                  # how the operator knows it: its time
    known_damaged: bool = False  # marked damaged by an earlier verify


# point id -> who it belongs to ("computer 'pc1' of job 'J'") and the other points
# of that job and computer in the same repository, newest first
Family = Callable[[str], tuple[str, Sequence[Sibling]]]


def _quoted(paths: Iterable[str], limit: int = 5) -> str:
    paths = list(paths)
    shown = ", ".join(repr(p) for p in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def damage_of(point_ids: Iterable[str], problems: VerifyProblems,
              hint: str | None = HEAL_HINT) -> dict[str, str | None]:
    """Point id -> why it is damaged, or None if verify found it intact. ``hint``
    ends the note of data damage (None: nothing; the caller adds its advice)."""
    by_point: dict[str, list[BlobProblem]] = {pid: [] for pid in point_ids}
    for p in problems:
        if p.point_id in by_point:
            by_point[p.point_id].append(p)
    damage: dict[str, str | None] = {}
    for pid, found in by_point.items():
        if not found:
            damage[pid] = None
            continue
        manifest = next((p for p in found if not p.blob), None)
        if manifest is not None:
            kind = MANIFEST_MISSING if manifest.problem == "manifest missing" \
                else MANIFEST_UNREADABLE
            damage[pid] = f"{kind}: {manifest.detail}"
            continue
        paths = sorted({path for p in found for path in p.paths})
        kinds = "/".join(sorted({p.problem for p in found}))
        damage[pid] = (f"{DATA_DAMAGED}: {len(found)} block(s) {kinds} (used by "
                       f"{_quoted(paths)})" + (f"; {hint}" if hint else ""))
    return damage


def _labels(labels: Sequence[str]) -> str:
    shown = ", ".join(labels[:SHOWN_POINTS])
    more = len(labels) - SHOWN_POINTS
    return shown + (f" and {more} more" if more > 0 else "")


def advice_text(intact: Sequence[str], sharing: int) -> str:
    """What to restore instead of a damaged point: the points of the same computer
    that do not use the damaged blocks (newest first), or why none can help."""
    if intact:
        return (f"{HEAL}; meanwhile restore a point that does not use them: "
                f"{_labels(intact)}")
    if sharing:
        return (f"{HEAL}; no older point can replace it: every other point of that "
                f"computer ({sharing}) uses the same damaged blocks (a block is stored "
                "once and shared by every point that holds it)")
    return f"{HEAL}; that computer has no other restore point"


def shared_damage(repo: Repository, problems: VerifyProblems,
                  damage: dict[str, str | None], family: Family) -> list[str]:
    """Add to ``damage`` the other points of each damaged point's computer that use
    its damaged blocks (damaged too, though not verified now), and end each note of
    data damage with what can be restored instead. Returns that advice, one line
    per computer ("computer 'pc1' of job 'J': ...")."""
    bad = {p.blob for p in problems if p.point_id and p.blob}
    damaged = [pid for pid, why in damage.items() if why and why.startswith(DATA_DAMAGED)]
    families = {pid: family(pid) for pid in damaged}
    unchecked = sorted({s.id for _, fam in families.values() for s in fam} - set(damage))
    users = repo.points_using(bad, unchecked) if bad and unchecked else {}
    sharing = {pid: paths for pid, paths in users.items() if paths}
    for pid, paths in sharing.items():
        damage[pid] = (f"{DATA_DAMAGED}: uses {len(bad)} damaged block(s) found by "
                       f"verify (used by {_quoted(sorted(set(paths)))})")

    def intact(s: Sibling) -> bool:
        if s.id in damage:
            return damage[s.id] is None
        return not s.known_damaged and users.get(s.id) == []

    lines: dict[str, None] = {}
    for pid in damaged:
        who, fam = families[pid]
        good = [s.label for s in fam if intact(s)]
        advice = advice_text(good, len(fam) - len(good))
        for marked in [pid, *(s.id for s in fam if s.id in sharing)]:
            if not (damage[marked] or "").endswith(advice):
                damage[marked] = f"{damage[marked]}; {advice}"
        lines.setdefault(f"{who}: {advice[0].upper()}{advice[1:]}.", None)
    return list(lines)


def verify_report(problems: VerifyProblems) -> VerifyReport:
    out: list[VerifyProblem] = []
    for p in problems:
        if p.point_id and p.blob:
            out.append(VerifyProblem(point_id=p.point_id, blob=p.blob, pack=p.pack,
                                     problem=p.problem, paths=list(p.paths)))
        elif p.point_id:   # the manifest: "manifest missing" | "manifest corrupt"
            out.append(VerifyProblem(point_id=p.point_id, blob="", pack=None,
                                     problem=p.problem, paths=[]))
        else:              # damage no checked point depends on: the sentence says it
            out.append(VerifyProblem(point_id="", blob=p.blob, pack=p.pack,
                                     problem=p.detail or p.problem, paths=[]))
    return VerifyReport(points_checked=problems.points_checked,
                        blobs_checked=problems.blobs_checked, problems=out,
                        bytes_checked=problems.bytes_checked)


def verify(repo: Repository, catalogued: list[str], point_id: str | list[str] | None, *,
           progress: Callable[[int, int], None] | None = None,
           cancel: Callable[[], bool] | None = None, light: bool = False,
           family: Family | None = None,
           ) -> tuple[VerifyReport, dict[str, str | None]]:
    """Verify one catalogued point (or several: a job's), or everything (every
    catalogued point, every manifest on disk, every pack and index file).
    Returns the report and the damage to record for the catalogued points
    checked. ``progress(packs read, packs to read)`` and ``cancel()`` are the
    repository's hooks; ``light`` (with points) lists and sizes their objects
    and reads no pack data. With ``family`` (a point's siblings), the points of a
    damaged point's computer that share its damaged blocks are marked too, and the
    report's ``advice`` says which points can be restored instead."""
    if point_id is not None:
        ids = [point_id] if isinstance(point_id, str) else list(point_id)
        problems = repo.verify(ids, missing_ok=True, full=False, progress=progress,
                               cancel=cancel, light=light)
    else:
        ids = sorted(set(catalogued) | set(repo.point_ids()))
        problems = repo.verify(ids, missing_ok=True, full=True, progress=progress,
                               cancel=cancel)
    known = set(catalogued)
    checked = [i for i in ids if i in known]
    if family is None:
        return verify_report(problems), damage_of(checked, problems)
    damage = damage_of(checked, problems, hint=None)
    report = verify_report(problems)
    report.advice = shared_damage(repo, problems, damage, family)
    return report, damage


def repair_report(rep: RepoRepairReport) -> RepairReport:
    return RepairReport(
        packs_checked=rep.packs_checked, blobs_ok=rep.blobs_ok, blobs_damaged=rep.blobs_damaged,
        packs_rewritten=rep.packs_rewritten, index_files_replaced=rep.index_files_replaced,
        points_ok=len(rep.points_ok), points_relinked=list(rep.points_relinked),
        points_damaged=dict(rep.points_damaged), problems=list(rep.problems))


def repair_damage(rep: RepoRepairReport, catalogued: Iterable[str]) -> dict[str, str | None]:
    known = set(catalogued)
    damage: dict[str, str | None] = {}
    for pid in [*rep.points_ok, *rep.points_relinked]:
        if pid in known:
            damage[pid] = None
    for pid, why in rep.points_damaged.items():
        if pid in known:
            kind = MANIFEST_UNREADABLE if "anifest" in why else DATA_DAMAGED
            damage[pid] = f"{kind}: {why}"
    return damage
