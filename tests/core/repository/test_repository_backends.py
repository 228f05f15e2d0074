"""The repository on each back end (memory, local folder), plain and encrypted:
round trips, passwords, damage found in sealed objects, no plaintext in the
storage, and a writer that lost its lock cannot commit."""
from __future__ import annotations

import errno
import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard

from core.errors import RepositoryError
from core.repository import (
    Backend,
    LocalBackend,
    MemoryBackend,
    ObjectNotFound,
    PartialRestore,
    PasswordRequired,
    Repository,
    WrongPassword,
)
from core.repository.backend import BackendError
from core.repository.backend.lease import LOCK_PREFIX, read_locks
from tests.support.seaweed import ACCESS_KEY, SECRET_KEY
from tests.core.repository.test_repository import BLOCK, backup, build_tree, meta, pseudo_random, snapshot


PASSWORD = "correct horse battery staple"
FAST_KDF = {"n": 1024, "r": 8, "p": 1}
MARKER = b"PLAINTEXT-MARKER-a91f3c"
SECRET_NAME = "secret-name-7b2e.txt"


@dataclass
class Setup:
    backend: Backend
    password: str | None
    flip: Callable[[str, int], None]   # object name, offset

    def open(self, **kw: object) -> Repository:
        return Repository.open(self.backend, password=self.password, workers=2,
                               **kw)  # type: ignore[arg-type]

    def objects(self) -> dict[str, bytes]:
        return {o.name: self.backend.load(o.name) for o in self.backend.list("")}


ENCRYPTED = ["memory-encrypted", "local-encrypted", "s3-encrypted"]


@pytest.fixture(params=["memory-plain", "local-plain", *ENCRYPTED])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    yield from _setup(request, tmp_path)


@pytest.fixture(params=ENCRYPTED)
def encrypted(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    yield from _setup(request, tmp_path)


def _setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    kind, mode = request.param.split("-")
    password = PASSWORD if mode == "encrypted" else None
    backend: Backend
    if kind == "s3":   # a real SeaweedFS, started once per session
        from core.repository.backend.s3 import S3Backend
        s3 = S3Backend.from_url(request.getfixturevalue("s3_url"), ACCESS_KEY, SECRET_KEY)
        backend = s3

        def flip(name: str, offset: int) -> None:
            data = bytearray(s3.load(name))
            data[offset] ^= 0xFF
            s3.save(name, data)
    elif kind == "memory":
        mem = MemoryBackend(request.node.name)
        backend = mem

        def flip(name: str, offset: int) -> None:
            mem.corrupt(name, offset)
    else:
        local = LocalBackend(tmp_path / "repo")
        backend = local

        def flip(name: str, offset: int) -> None:
            with open(local.root / name, "r+b") as f:
                f.seek(offset)
                byte = f.read(1)
                f.seek(offset)
                f.write(bytes([byte[0] ^ 0xFF]))
    Repository.open(backend, create=True, password=password, block_size=BLOCK,
                    pack_size=64 << 10, kdf=FAST_KDF).close()
    yield Setup(backend, password, flip)
    backend.close()


def tree(tmp_path: Path) -> Path:
    src = build_tree(tmp_path / "src")
    (src / "other.bin").write_bytes(pseudo_random(40 * BLOCK, 7))   # packs of its own
    return src


def names(repo: Repository, prefix: str) -> list[str]:
    return sorted(o.name for o in repo.backend.list(prefix))


# -- round trips -------------------------------------------------------------------


def test_backup_restore_verify_prune_repair_round_trip(setup: Setup, tmp_path: Path) -> None:
    src = tree(tmp_path)
    with setup.open() as repo:
        assert repo.encrypted == (setup.password is not None)
        assert repo.location == setup.backend.location
        first, _, blobs1 = backup(repo, src)
        assert blobs1 > 0
        second, _, blobs2 = backup(repo, src, parent=first.id)
        assert blobs2 == 0                          # deduplicated against the first
        (src / "other.bin").write_bytes(pseudo_random(40 * BLOCK, 8))
        third, _, blobs3 = backup(repo, src, parent=second.id)
        assert blobs3 > 0
        assert [p.id for p in repo.list_points()] == [first.id, second.id, third.id]
        assert repo.verify() == []
        repo.restore(third.id, tmp_path / "out3")
        assert snapshot(tmp_path / "out3") == snapshot(src)
        repo.forget([first.id, second.id])
        report = repo.prune()
        assert not report.skipped and report.blobs_removed > 0 and not report.problems
        assert repo.verify() == []
        repair = repo.repair()
        assert repair.points_ok == [third.id] and not repair.points_damaged
        stats = repo.stats()
        assert stats.points == 1 and stats.packs >= 1 and stats.bytes_on_disk > 0
    with setup.open() as again:                    # reopened: the same key opens it
        again.restore(third.id, tmp_path / "again")
        assert again.verify() == []
    assert snapshot(tmp_path / "again") == snapshot(src)


def test_pack_names_and_config(setup: Setup, tmp_path: Path) -> None:
    with setup.open() as repo:
        backup(repo, tree(tmp_path))
        config = json.loads(setup.backend.load("config.json"))
        assert config["encryption"] == ("aes-256-gcm" if setup.password else "none")
        packs = names(repo, "packs/")
        assert packs and all(n.split("/")[1] == n.split("/")[2][:2] for n in packs)
        assert names(repo, "index/") and names(repo, "points/")
        assert bool(names(repo, "keys/")) == (setup.password is not None)


# -- passwords ---------------------------------------------------------------------


def test_wrong_or_missing_password_changes_nothing(encrypted: Setup, tmp_path: Path) -> None:
    setup = encrypted
    with setup.open() as repo:
        backup(repo, tree(tmp_path))
    before = setup.objects()
    with pytest.raises(WrongPassword, match="password does not open"):
        Repository.open(setup.backend, password="not the password")
    with pytest.raises(PasswordRequired, match="is encrypted: give its password"):
        Repository.open(setup.backend)
    with pytest.raises(PasswordRequired):
        Repository.open(setup.backend, password="")
    assert setup.objects() == before


def test_a_repository_without_the_encryption_field_is_plain(tmp_path: Path) -> None:
    root = tmp_path / "old"
    with Repository.open(root, create=True, block_size=BLOCK) as repo:
        point, _, _ = backup(repo, tree(tmp_path))
    config = json.loads((root / "config.json").read_text())
    del config["encryption"]                        # as written before encryption existed
    (root / "config.json").write_text(json.dumps(config))
    with Repository.open(root) as repo:
        assert not repo.encrypted and repo.path == root
        repo.restore(point.id, tmp_path / "out")
    assert snapshot(tmp_path / "out") == snapshot(tmp_path / "src")


# -- config.json is not sealed: changing it is found --------------------------------


def edit_config(backend: Backend, **fields: object) -> None:
    config = json.loads(backend.load("config.json"))
    config.update(fields)
    backend.save("config.json", json.dumps(config, indent=2).encode())


def test_a_config_switched_to_unencrypted_is_refused_and_nothing_changes(
        encrypted: Setup, tmp_path: Path) -> None:
    setup = encrypted
    with setup.open() as repo:
        backup(repo, tree(tmp_path))
    edit_config(setup.backend, encryption="none")
    before = setup.objects()
    with pytest.raises(RepositoryError, match="not encrypted, but it holds encryption keys: "
                                              "the config was changed") as caught:
        Repository.open(setup.backend, password=setup.password)
    assert "Restore config.json from a copy (its encryption must be aes-256-gcm); nothing " \
        "was changed." in str(caught.value)
    with pytest.raises(RepositoryError, match="holds encryption keys"):
        Repository.open(setup.backend)
    assert setup.objects() == before


@pytest.mark.parametrize("change", [{"pack_size": 1 << 30}, {"block_size": 2 * BLOCK},
                                    {"id": "0" * 32}])
def test_a_changed_config_of_an_encrypted_repository_is_refused(
        encrypted: Setup, tmp_path: Path, change: dict[str, object]) -> None:
    setup = encrypted
    with setup.open() as repo:
        backup(repo, tree(tmp_path))
    edit_config(setup.backend, **change)
    before = setup.objects()
    field = next(iter(change))
    with pytest.raises(RepositoryError, match=f"differs from the sealed copy.*{field}.*the "
                                              "config was changed"):
        setup.open()
    assert setup.objects() == before


def test_a_replaced_sealed_config_is_refused(encrypted: Setup) -> None:
    setup = encrypted
    other = MemoryBackend("other")
    Repository.open(other, create=True, password=setup.password, kdf=FAST_KDF).close()
    setup.backend.save("config.sealed", other.load("config.sealed"))   # another key's
    with pytest.raises(RepositoryError, match="sealed copy of the repository's config, cannot "
                                              "be opened"):
        setup.open()


def test_an_encrypted_repository_without_a_sealed_config_gets_one_on_first_open(
        encrypted: Setup, tmp_path: Path) -> None:
    """Repositories made before the sealed copy existed open as before, and
    are protected from then on."""
    setup = encrypted
    with setup.open() as repo:
        point, _, _ = backup(repo, tree(tmp_path))
    setup.backend.remove("config.sealed")
    with setup.open() as repo:
        assert repo.load_manifest(point.id).meta.id == point.id
    assert setup.backend.exists("config.sealed")
    edit_config(setup.backend, pack_size=1 << 30)
    with pytest.raises(RepositoryError, match="differs from the sealed copy"):
        setup.open()


def test_repair_refuses_when_no_pack_opens_and_deletes_nothing(
        encrypted: Setup, tmp_path: Path) -> None:
    """Keys gone and config.json switched to "none": every pack looks damaged
    to a plain reader. That is not damage, and repair must not delete them."""
    setup = encrypted
    with setup.open() as repo:
        backup(repo, tree(tmp_path))
        packs = names(repo, "packs/")
    assert packs
    for name in [o.name for o in setup.backend.list("keys/")] + ["config.sealed"]:
        setup.backend.remove(name)
    edit_config(setup.backend, encryption="none")
    before = setup.objects()
    with Repository.open(setup.backend, workers=2) as repo:
        with pytest.raises(RepositoryError, match=f"Every pack of repository .* "
                                                  f"\\({len(packs)}\\) fails to open: that is "
                                                  "not damage"):
            repo.repair()
    assert setup.objects() == before


def test_repair_drops_the_only_pack_when_it_is_lost(tmp_path: Path) -> None:
    """One pack that no longer opens is damage, not a wrong key: repair drops
    it and the point is marked damaged, as before."""
    store = MemoryBackend("one-pack")
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(b"hello world" * 100)
    with Repository.open(store, create=True, workers=2) as repo:
        point, _, _ = backup(repo, src)
        pack_id = repo._index.blobs[repo.load_manifest(point.id).by_path()["a.txt"].blocks[0]]\
            .pack
    # its one data pack (the other holds the point's entry blob: manifest format 3)
    pack = f"packs/{pack_id[:2]}/{pack_id}.pack"
    assert len(list(store.list("packs/"))) == 2
    store.save(pack, bytes(64))                   # the disk zeroed it
    with Repository.open(store, workers=2) as repo:
        report = repo.repair()
        assert report.packs_checked == 2 and point.id in report.points_damaged
    assert pack not in [o.name for o in store.list("packs/")]


# -- damage in sealed objects ------------------------------------------------------


def test_flipped_byte_in_a_blob_is_found_by_verify_and_restore(
        setup: Setup, tmp_path: Path) -> None:
    src = tree(tmp_path)
    with setup.open() as repo:
        point, _, _ = backup(repo, src)
        blob = repo.load_manifest(point.id).by_path()["other.bin"].blocks[2]
        loc = repo._index.blobs[blob]
        setup.flip(f"packs/{loc.pack[:2]}/{loc.pack}.pack", loc.offset + 20)
        problems = repo.verify([point.id])
        assert [(p.point_id, p.blob, p.pack, p.problem, p.paths) for p in problems] == [
            (point.id, blob, loc.pack, "corrupt", ["other.bin"])]
        with pytest.raises(PartialRestore, match="other.bin") as caught:
            repo.restore(point.id, tmp_path / "out")
        assert [path for path, _ in caught.value.stats.failed] == ["other.bin"]
    restored = snapshot(tmp_path / "out")
    expected = snapshot(src)
    del expected["other.bin"]
    assert restored == expected


def test_flipped_byte_in_a_pack_trailer_is_found_by_a_full_verify(
        setup: Setup, tmp_path: Path) -> None:
    with setup.open() as repo:
        backup(repo, tree(tmp_path))
        pack = names(repo, "packs/")[0]
        size = setup.backend.stat(pack).size
        setup.flip(pack, size - 20)                 # in the trailer (or its footer)
        problems = repo.verify()
        pack_id = pack.rsplit("/", 1)[-1].removesuffix(".pack")
        assert any(pack_id in p.detail and "is damaged" in p.detail for p in problems)


def test_flipped_byte_in_an_index_file_is_found(setup: Setup, tmp_path: Path) -> None:
    src = tree(tmp_path)
    with setup.open() as repo:
        point, _, _ = backup(repo, src)
        (idx,) = names(repo, "index/")
    setup.flip(idx, 40)
    with setup.open() as repo:                      # the packs are indexed again
        problems = repo.verify()
        idx_id = idx.rsplit("/", 1)[-1]
        assert any(idx_id in p.detail and "is corrupt" in p.detail for p in problems)
        assert all(p.point_id == "" for p in problems)
        repo.restore(point.id, tmp_path / "out")
        report = repo.repair()
        assert not report.points_damaged
        assert repo.verify() == []
    assert snapshot(tmp_path / "out") == snapshot(src)


def test_flipped_byte_in_a_manifest_is_found(setup: Setup, tmp_path: Path) -> None:
    src = tree(tmp_path)
    with setup.open() as repo:
        good, _, _ = backup(repo, src)
        bad, _, _ = backup(repo, src, parent=good.id)
        name = f"points/{bad.id}.json.zst"
        setup.flip(name, setup.backend.stat(name).size - 3)
        assert [p.id for p in repo.list_points()] in ([good.id], [good.id, bad.id])
        with pytest.raises(RepositoryError, match=f"{bad.id}.json.zst is corrupt"):
            repo.load_manifest(bad.id)
        problems = repo.verify()
        assert [(p.point_id, p.problem) for p in problems] == [(bad.id, "manifest corrupt")]
        assert not repo.prune().skipped             # prune goes on around it
        repo.restore(good.id, tmp_path / "out")
    assert snapshot(tmp_path / "out") == snapshot(src)


class CountingBackend(MemoryBackend):
    """Records the bytes each load returns (a real MemoryBackend otherwise)."""

    def __init__(self) -> None:
        super().__init__("counting")
        self.loaded: list[tuple[str, int]] = []

    def load(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        data = super().load(name, offset, length)
        self.loaded.append((name, len(data)))
        return data


@pytest.mark.parametrize("password", [None, PASSWORD])
def test_listing_points_and_restoring_read_only_what_they_need(
        password: str | None, tmp_path: Path) -> None:
    backend = CountingBackend()
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3000):   # a manifest far larger than its header
        (src / f"file-{i:05d}-{'x' * 40}.txt").write_bytes(pseudo_random(64, i))
    (src / "big.bin").write_bytes(pseudo_random(40 * BLOCK, 1))
    with Repository.open(backend, create=True, password=password, block_size=BLOCK,
                         pack_size=1 << 20, kdf=FAST_KDF) as repo:
        point, _, _ = backup(repo, src)
        manifest_size = backend.stat(f"points/{point.id}.json.zst").size
        # format 3: the rows are in entry blobs, the object holds the header and their ids
        assert manifest_size < 4096
        rows = repo.load_manifest(point.id).entry_blobs
        largest_rows = max(repo._index.blobs[b].length for b in rows)
        backend.loaded.clear()
        assert [p.id for p in repo.list_points()] == [point.id]
        (read,) = [n for name, n in backend.loaded if name.startswith("points/")]
        assert read <= manifest_size
        assert not [name for name, _ in backend.loaded if name.startswith("packs/")]
        backend.loaded.clear()
        repo.restore(point.id, tmp_path / "out", paths=["big.bin"])
        pack_reads = [n for name, n in backend.loaded if name.startswith("packs/")]
        # the entry blobs one at a time, then the file's own blocks: read in runs (one
        # read per run of nearby blocks), never more than those blocks and the gaps of
        # at most 64 KiB a run may span
        assert pack_reads and max(pack_reads[:len(rows)]) <= largest_rows
        assert sorted(pack_reads[:len(rows)]) == sorted(repo._index.blobs[b].length
                                                        for b in rows)
        (big,) = [e for e in repo.load_manifest(point.id).entries if e.path == "big.bin"]
        needed = sum(repo._index.blobs[b].length for b in set(big.blocks))
        file_reads = pack_reads[len(rows):]
        assert needed <= sum(file_reads) <= needed + (64 << 10) * len(file_reads)
    assert (tmp_path / "out" / "big.bin").read_bytes() == (src / "big.bin").read_bytes()


def test_restoring_from_s3_fetches_each_pack_once(s3_url: str, tmp_path: Path) -> None:
    """Object storage costs a round trip per request: a restore of many small
    files loads whole packs, each once, not one range per blob."""
    from core.repository.backend.s3 import S3Backend

    class CountingS3(S3Backend):
        loads: list[str] = []

        def load(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
            self.loads.append(name)
            return super().load(name, offset, length)

    src = tmp_path / "src"
    src.mkdir()
    for i in range(400):
        (src / f"f{i:03d}.bin").write_bytes(pseudo_random(3000, i))
    backend = CountingS3.from_url(s3_url, ACCESS_KEY, SECRET_KEY)
    try:
        with Repository.open(backend, create=True, password=PASSWORD, block_size=BLOCK,
                             pack_size=256 << 10, kdf=FAST_KDF) as repo:
            point, _, _ = backup(repo, src)
            packs = names(repo, "packs/")
            assert len(packs) >= 3
            backend.loads.clear()
            repo.restore(point.id, tmp_path / "out")
            pack_loads = [n for n in backend.loads if n.startswith("packs/")]
            assert sorted(pack_loads) == packs       # every pack once, none twice
    finally:
        backend.close()
    assert snapshot(tmp_path / "out") == snapshot(src)


def test_a_flipped_byte_in_the_manifest_header_hides_the_point_when_encrypted(
        encrypted: Setup, tmp_path: Path) -> None:
    setup = encrypted   # (a plain manifest's header may survive a byte flipped after it)
    with setup.open() as repo:
        point, _, _ = backup(repo, tree(tmp_path))
        setup.flip(f"points/{point.id}.json.zst", 30)
        points, unreadable = repo.point_health()
        assert points == [] and list(unreadable) == [point.id]
        assert "cannot be decrypted" in unreadable[point.id]


# -- no plaintext in the storage ---------------------------------------------------


def _readable(objects: dict[str, bytes]) -> Iterator[bytes]:
    """Every object, and what it decompresses to if it is a zstd frame."""
    for data in objects.values():
        yield data
        for start in range(len(data) - 4):   # frames inside packs and manifests
            start = data.find(b"\x28\xb5\x2f\xfd", start)
            if start < 0:
                break
            try:
                reader = zstandard.ZstdDecompressor().stream_reader(data[start:])
                yield reader.read(1 << 22)
            except zstandard.ZstdError:
                pass


def test_encrypted_objects_hold_no_plaintext(setup: Setup, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / SECRET_NAME).write_bytes(MARKER + pseudo_random(BLOCK, 3) + MARKER)
    with setup.open() as repo:
        backup(repo, src)
        writer = repo.begin_backup(meta(None))      # a lock object exists meanwhile
        held = setup.objects()
        if setup.backend.kind == "s3":
            (lock,) = [data for name, data in held.items() if name.startswith(LOCK_PREFIX)]
            assert (socket.gethostname().encode() in lock) == (setup.password is None)
            (info,) = read_locks(repo.backend)      # whoever opens it still reads who holds it
            assert info.describe() == f"{socket.gethostname()} (pid {os.getpid()}, backup)"
        writer.abort()
    seen = b"".join(_readable(held))
    if setup.password is None:   # the check can fail: in plain repositories both show
        assert MARKER in seen and SECRET_NAME.encode() in seen
    else:
        assert MARKER not in seen and SECRET_NAME.encode() not in seen
        assert b"ABKPACK1" not in seen and b"ABKIDX01" not in seen


# -- locks -------------------------------------------------------------------------


def test_a_writer_that_lost_its_lock_cannot_commit(tmp_path: Path) -> None:
    backend = MemoryBackend("lease")
    src = tree(tmp_path)
    with Repository.open(backend, create=True, block_size=BLOCK, workers=2) as repo:
        w = repo.begin_backup(meta())
        w.add_file("other.bin", os.stat(src / "other.bin"),
                   iter([(src / "other.bin").read_bytes()]))
        backend.lose_locks()
        with pytest.raises(RepositoryError, match="lock on repository memory:lease was lost"):
            w.commit()
        assert repo.list_points() == [] and not names(repo, "points/")
        assert not repo.prune().skipped             # the failed writer released it
        point, _, _ = backup(repo, src)            # a new writer commits
        assert [p.id for p in repo.list_points()] == [point.id]


def test_prune_and_repair_wait_for_no_writer(setup: Setup, tmp_path: Path) -> None:
    with setup.open() as repo:
        w = repo.begin_backup(meta())
        assert repo.prune().skipped
        with pytest.raises(RepositoryError, match="in use"):
            repo.repair()
        w.add_dir("d", os.stat(tmp_path))
        w.commit()
        assert not repo.prune().skipped


def test_open_and_create_errors(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError, match="No repository at memory:x"):
        Repository.open(MemoryBackend("x"))
    busy = MemoryBackend("busy")
    busy.save("something", b"1")
    with pytest.raises(RepositoryError, match="not empty"):
        Repository.open(busy, create=True)


# -- the local back end's contract ---------------------------------------------------


def test_local_backend_contract(tmp_path: Path) -> None:
    b = LocalBackend(tmp_path / "r")
    b.prepare(create=True)
    b.save("packs/ab/ab1.pack", bytearray(b"0123456789"))
    b.save("index/i.idx", b"idx")
    assert b.load("packs/ab/ab1.pack", 2, 3) == b"234"
    assert b.load("packs/ab/ab1.pack", 8, 10) == b"89"          # beyond the end: what exists
    assert b.load("packs/ab/ab1.pack") == b"0123456789"
    assert b.load("index/i.idx", 1) == b"dx"
    assert b.stat("index/i.idx").size == 3 and b.exists("index/i.idx")
    assert sorted(o.name for o in b.list("")) == ["index/i.idx", "packs/ab/ab1.pack"]
    assert [o.name for o in b.list("packs/a")] == ["packs/ab/ab1.pack"]
    assert [(o.name, o.size) for o in b.list("index/")] == [("index/i.idx", 3)]
    assert list(b.list("points/")) == []
    b.save("index/i.idx", b"new")                                # replaced whole
    parts = [bytes([i % 251]) * (i % 7) for i in range(1500)]    # more than one writev
    b.save_parts("packs/cd/cd1.pack", parts)
    assert b.load("packs/cd/cd1.pack") == b"".join(parts)
    assert b.load("index/i.idx") == b"new"
    b.remove("packs/ab/ab1.pack")
    b.remove("packs/ab/ab1.pack")                                # missing: not an error
    with pytest.raises(ObjectNotFound):
        b.load("packs/ab/ab1.pack", 0, 1)
    with pytest.raises(FileNotFoundError):
        b.stat("nope")
    assert not list((tmp_path / "r" / "tmp").iterdir())
    usage = b.usage()
    assert usage.capacity and usage.free is not None
    shared = b.lock(exclusive=False, wait=False)
    assert shared is not None and shared.held
    assert b.lock(exclusive=True, wait=False) is None
    shared.release()
    assert not shared.held
    with b.lock(exclusive=True, wait=False) as exclusive:
        assert exclusive is not None and exclusive.held
        assert b.lock(exclusive=False, wait=False) is None
    b.close()


def test_local_backend_failures_keep_their_errno(tmp_path: Path) -> None:
    root = tmp_path / "r"
    b = LocalBackend(root)
    b.prepare(create=True)
    (root / "index").rmdir()
    (root / "index").write_text("a file where a folder should be")
    with pytest.raises(BackendError) as caught:
        b.save("index/x.idx", b"1")
    assert caught.value.errno in (errno.ENOTDIR, errno.EEXIST)
    assert isinstance(caught.value, OSError)
