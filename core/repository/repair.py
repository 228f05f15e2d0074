"""Repair: rebuild the index from the packs and drop damaged copies.

Runs under the exclusive lock. Every pack is read in full; a pack with a
damaged blob or a damaged structure has its intact blobs copied into a new
pack and is then removed (restic's ``repair packs``), and one new index file
replaces every old one (``repair index``). Points whose blocks are all intact
again are "re-linked"; a block with no intact copy left is simply absent, so
the next backup that reads the same data stores it again.

Crash safety is prune's: new packs, then the new index, then deleting old
index files, then deleting old packs.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from core.errors import RepositoryError

from core.repository.damage import DamageRegistry
from core.repository.errors import write_error
from core.repository.index import Index, entries_by_pack, write_index
from core.repository.layout import Layout
from core.repository.model import Manifest, RepairReport
from core.repository.packfile import BlobLoc, PackBuilder, PackCheck, PackInfo, check_pack_or_error

log = logging.getLogger(__name__)


def repair_repository(
    layout: Layout,
    index: Index,
    damage: DamageRegistry,
    pack_size: int,
    pool: ThreadPoolExecutor,
    point_ids: list[str],
    load_manifest: Callable[[str], Manifest],
    check_lock: Callable[[], None] = lambda: None,
) -> RepairReport:
    report = RepairReport()
    before = dict(index.blobs)
    old_index_ids = layout.list_index_ids()
    listed = entries_by_pack(layout, old_index_ids,
                             lambda exc: report.problems.append(f"{exc} (replaced)"))
    on_disk = layout.list_packs()

    def one(pack_id: str) -> tuple[str, PackCheck | OSError]:
        return pack_id, check_pack_or_error(layout, pack_id, listed.get(pack_id))

    keep: list[PackInfo] = []
    salvage: list[tuple[str, list[tuple[str, BlobLoc]]]] = []
    checked = list(pool.map(one, sorted(on_disk)))
    _refuse_if_no_pack_opens(layout, checked, listed)
    for pack_id, result in checked:
        report.packs_checked += 1
        path = layout.describe(layout.pack(pack_id))
        if isinstance(result, OSError):
            report.problems.append(f"pack {path} cannot be read ({result.strerror or result}); "
                                   "it was left in place and is not used")
            continue
        located = result.entries if result.entries is not None else listed.get(pack_id, [])
        bad = {b for b, _ in result.bad}
        good = [(b, loc) for b, loc in located if b not in bad]
        report.blobs_ok += len(good)
        report.blobs_damaged += len(bad)
        if result.problem is None and not bad:
            keep.append(PackInfo(pack_id, result.entries or [], on_disk[pack_id]))
            continue
        why = result.problem or f"{len(bad)} damaged block(s)"
        report.problems.append(f"pack {pack_id}: {why}; {len(good)} intact block(s) kept")
        salvage.append((pack_id, good))
    for pack_id in sorted(set(listed) - set(on_disk)):
        report.problems.append(f"pack {pack_id} is listed in the index but missing; its "
                               "blocks are stored again by the next backups")

    new_packs = _copy_intact(layout, pack_size, salvage, keep)
    check_lock()   # raises if the exclusive lock was lost: nothing is replaced then
    infos = keep + new_packs
    blobs: dict[str, BlobLoc] = {}
    for info in infos:
        for blob, loc in info.blobs:
            blobs.setdefault(blob, loc)
    try:
        loaded = [write_index(layout, infos)] if infos else []
        for index_id in old_index_ids:
            layout.backend.remove(layout.index_file(index_id))
    except OSError as exc:
        raise write_error(layout.root, exc, "the new index") from exc
    report.index_files_replaced = len(old_index_ids)
    check_lock()
    for pack_id, _ in salvage:
        name = layout.pack(pack_id)
        try:
            layout.backend.remove(name)
        except OSError as exc:
            report.problems.append(
                f"could not delete damaged pack {layout.describe(name)}: {exc}")
    report.packs_rewritten = len(salvage)
    damage.keep_only_packs({info.pack_id for info in infos})
    index.replace(blobs, loaded)

    for point_id in point_ids:
        try:
            manifest = load_manifest(point_id)
        except RepositoryError as exc:
            report.points_damaged[point_id] = str(exc)
            continue
        needed = {b for e in manifest.entries for b in e.blocks} | set(manifest.entry_blobs)
        missing = {b for b in needed if b not in blobs}
        if missing:
            paths = sorted({e.path for e in manifest.entries if not missing.isdisjoint(e.blocks)})
            shown = ", ".join(repr(p) for p in paths[:5]) + (" ..." if len(paths) > 5 else "")
            report.points_damaged[point_id] = (
                f"{len(missing)} block(s) have no intact copy (used by {shown}); the next "
                "backup of that computer stores them again")
        elif any(b not in before for b in needed):
            report.points_relinked.append(point_id)
        else:
            report.points_ok.append(point_id)
    return report


def _refuse_if_no_pack_opens(layout: Layout, checked: list[tuple[str, PackCheck | OSError]],
                             listed: dict[str, list[tuple[str, BlobLoc]]]) -> None:
    """Damage hits some packs; when no pack opens and not one block of any
    decodes, the packs were read with the wrong key (a changed config.json,
    another repository's key), and repairing would delete every one of them."""
    def hopeless(pack_id: str, result: PackCheck | OSError) -> bool:
        if not isinstance(result, PackCheck) or result.problem is None:
            return False
        located = result.entries if result.entries is not None else listed.get(pack_id, [])
        return len(result.bad) >= len(located)

    # one lost pack is damage; several, all unreadable, a key (or config) gone
    if len(checked) < 2 or not all(hopeless(pack_id, result) for pack_id, result in checked):
        return
    raise RepositoryError(
        f"Every pack of repository {layout.root} ({len(checked)}) fails to open: that is "
        "not damage but a wrong key or a changed config.json. Repair refused and changed "
        "nothing: check the repository's config.json (restore it from a copy) and its "
        "password.")


def _copy_intact(layout: Layout, pack_size: int,
                 salvage: list[tuple[str, list[tuple[str, BlobLoc]]]],
                 keep: list[PackInfo]) -> list[PackInfo]:
    """Copy intact blobs of damaged packs into new packs (still compressed),
    unless a kept pack already holds the blob."""
    have = {b for info in keep for b, _ in info.blobs}
    new_packs: list[PackInfo] = []
    builder: PackBuilder | None = None
    try:
        for pack_id, good in salvage:
            data = layout.backend.load(layout.pack(pack_id))
            for blob, loc in sorted(good, key=lambda b: b[1].offset):
                if blob in have:
                    continue
                have.add(blob)
                if builder is None:
                    builder = PackBuilder(layout)
                builder.add(blob, data[loc.offset:loc.offset + loc.length], loc.raw_length,
                            loc.flags)
                if builder.size >= pack_size:
                    new_packs.append(builder.finish())
                    builder = None
        if builder is not None:
            new_packs.append(builder.finish())
            builder = None
    except OSError as exc:
        raise write_error(layout.root, exc, "repaired packs") from exc
    finally:
        if builder is not None:
            builder.discard()
    return new_packs
