"""The storage back-end contract (core/repository/backend/base.py), run on
every back end: in memory, a local folder, and S3 on a real SeaweedFS."""
from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core.repository.backend import Backend, MemoryBackend, ObjectNotFound
from tests.conftest import wait_until
from tests.support.seaweed import SeaweedS3

HAS_LOCAL = importlib.util.find_spec("core.repository.backend.local") is not None
KINDS = ["memory", "s3"] + (["local"] if HAS_LOCAL else [])
LEASE = 2.0


@pytest.fixture(params=KINDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    kind = request.param
    if kind == "memory":
        b: Backend = MemoryBackend()
    elif kind == "local":
        from core.repository.backend.local import LocalBackend
        local = LocalBackend(tmp_path / "repo")
        local.prepare(create=True)
        b = local
    else:
        from core.repository.backend.s3 import S3Backend
        server: SeaweedS3 = request.getfixturevalue("seaweed")
        url = request.getfixturevalue("s3_url") + "/some/prefix"
        b = S3Backend.from_url(url, server.access_key, server.secret_key, lease_seconds=LEASE)
    assert isinstance(b, Backend)
    assert b.kind == kind
    yield b
    b.close()


BLOB = bytes(range(256)) * 40           # every byte value, 10 KiB


def test_save_and_load_round_trip(backend: Backend) -> None:
    backend.save("config.json", b'{"v": 1}')
    backend.save("packs/ab/ab12.pack", bytearray(BLOB))
    backend.save("index/0001.idx", memoryview(BLOB)[100:200])
    backend.save("empty", b"")
    assert backend.load("config.json") == b'{"v": 1}'
    assert backend.load("packs/ab/ab12.pack") == BLOB
    assert backend.load("index/0001.idx") == BLOB[100:200]
    assert backend.load("empty") == b""


def test_save_replaces_the_whole_object(backend: Backend) -> None:
    backend.save("config.json", BLOB)
    backend.save("config.json", b"short")
    assert backend.load("config.json") == b"short"
    assert backend.stat("config.json").size == 5


@pytest.mark.parametrize(("offset", "length"), [
    (0, None), (0, 1), (1, 255), (5000, 1000), (10_000, None), (10_239, 1), (0, 10_240),
    (10_000, 1000),             # runs past the end: what exists
    (10_240, None), (10_240, 5), (20_000, 10),      # starts at or past the end: nothing
    (3, 0),
])
def test_ranged_load(backend: Backend, offset: int, length: int | None) -> None:
    backend.save("packs/ab/ab12.pack", BLOB)
    end = None if length is None else offset + length
    assert backend.load("packs/ab/ab12.pack", offset, length) == BLOB[offset:end]


def test_missing_objects(backend: Backend) -> None:
    with pytest.raises(ObjectNotFound):
        backend.load("points/missing.json")
    with pytest.raises(ObjectNotFound):
        backend.load("points/missing.json", 10, 5)
    with pytest.raises(ObjectNotFound):
        backend.stat("points/missing.json")
    assert not backend.exists("points/missing.json")
    backend.remove("points/missing.json")           # not an error


def test_stat_exists_remove(backend: Backend) -> None:
    backend.save("keys/k1", BLOB[:1234])
    assert backend.exists("keys/k1")
    info = backend.stat("keys/k1")
    assert (info.name, info.size) == ("keys/k1", 1234)
    backend.remove("keys/k1")
    assert not backend.exists("keys/k1")
    with pytest.raises(ObjectNotFound):
        backend.load("keys/k1")
    assert [i.name for i in backend.list("keys/")] == []


def test_list_by_prefix_at_any_depth(backend: Backend) -> None:
    names = ["config.json", "packs/ab/ab01.pack", "packs/ab/ab02.pack", "packs/cd/cd01.pack",
             "index/i1.idx", "points/p1.json.zst", "keys/k1"]
    for i, name in enumerate(names):
        backend.save(name, b"x" * (i + 1))
    listed = {i.name: i.size for i in backend.list("")}
    assert {n: s for n, s in listed.items() if not n.startswith("locks/")} == \
        {n: i + 1 for i, n in enumerate(names)}
    assert sorted(i.name for i in backend.list("packs/")) == \
        ["packs/ab/ab01.pack", "packs/ab/ab02.pack", "packs/cd/cd01.pack"]
    assert sorted(i.name for i in backend.list("packs/ab/")) == \
        ["packs/ab/ab01.pack", "packs/ab/ab02.pack"]
    assert sorted(i.name for i in backend.list("packs/c")) == ["packs/cd/cd01.pack"]
    assert [i.name for i in backend.list("index/")] == ["index/i1.idx"]
    assert [i.name for i in backend.list("nothing/")] == []


def test_list_many_objects(backend: Backend) -> None:
    """More than one page of an S3 listing (1000 keys)."""
    names = [f"index/{i:05d}.idx" for i in range(1100)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: backend.save(n, n.encode()), names))
    backend.save("indexes-not", b"y")
    listed = {i.name: i.size for i in backend.list("index/")}
    assert sorted(listed) == names
    assert set(listed.values()) == {len(names[0])}


def test_usage_counts_stored_bytes_when_known(backend: Backend) -> None:
    backend.save("packs/ab/ab01.pack", BLOB)
    usage = backend.usage()
    if usage.used is not None:
        assert usage.used >= len(BLOB)
    if backend.kind == "s3":
        assert usage.used == len(BLOB) and usage.capacity is None
    backend.save("packs/cd/cd01.pack", BLOB + BLOB)    # a new pack counts at once
    if usage.used is not None:
        assert backend.usage().used == usage.used + 2 * len(BLOB)
    backend.remove("packs/ab/ab01.pack")
    if usage.used is not None:
        assert backend.usage().used == usage.used + len(BLOB)


# -- locks -------------------------------------------------------------------

def test_shared_locks_coexist_and_exclude_an_exclusive_one(backend: Backend) -> None:
    a = backend.lock(exclusive=False, wait=False)
    b = backend.lock(exclusive=False, wait=False)
    assert a is not None and b is not None and a.held and b.held
    assert backend.lock(exclusive=True, wait=False) is None
    a.release()
    assert not a.held
    assert backend.lock(exclusive=True, wait=False) is None
    b.release()
    with backend.lock(exclusive=True, wait=False) as c:
        assert c is not None and c.held
    assert not c.held


def test_exclusive_lock_excludes_everyone(backend: Backend) -> None:
    x = backend.lock(exclusive=True, wait=False)
    assert x is not None and x.held
    assert backend.lock(exclusive=True, wait=False) is None
    assert backend.lock(exclusive=False, wait=False) is None
    x.release()
    x.release()                                     # twice is harmless
    s = backend.lock(exclusive=False, wait=False)
    assert s is not None
    s.release()


@pytest.mark.parametrize("exclusive_waiter", [False, True])
def test_wait_blocks_until_the_holder_releases(backend: Backend, exclusive_waiter: bool) -> None:
    holder = backend.lock(exclusive=True, wait=False)
    assert holder is not None
    got: list[object] = []
    done = threading.Event()

    def take() -> None:
        got.append(backend.lock(exclusive=exclusive_waiter, wait=True))
        done.set()

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    assert not done.wait(0.5), "the waiter got the lock while it was held exclusively"
    holder.release()
    wait_until(done.is_set, timeout=10)
    lock = got[0]
    assert lock is not None and lock.held          # type: ignore[attr-defined]
    assert backend.lock(exclusive=True, wait=False) is None
    lock.release()                                  # type: ignore[attr-defined]


def test_location_names_the_store(backend: Backend) -> None:
    assert backend.location
    if backend.kind == "s3":
        assert backend.location.startswith("s3:http://127.0.0.1:")
        assert backend.location.endswith("/some/prefix")
