"""The repository's encryption primitives: MasterKey sealing and key objects."""
from __future__ import annotations

import base64
import json
import os
import pickle
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.errors import InvalidInput, RepositoryError
from core.repository.backend.memory import MemoryBackend
from core.repository.crypto import DecryptError, MasterKey
from core.repository.keys import (
    DEFAULT_N, DamagedKey, KeyInUse, KeyNotFound, PasswordRequired, WrongPassword, add_key,
    create_key, list_keys, remove_key, unlock,
)
from core.repository.sealing import Sealer

FAST = {"n": 2 ** 10, "r": 8, "p": 1}
PASSWORD = "correct horse battery staple"


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend("crypto")


def key_objects(backend: MemoryBackend) -> dict[str, bytes]:
    return {info.name: backend.load(info.name) for info in backend.list("keys/")}


# -- MasterKey ---------------------------------------------------------------

def test_master_key_is_a_sealer() -> None:
    key: Sealer = MasterKey.generate()
    assert key.encrypted is True
    assert key.overhead == 28


@pytest.mark.parametrize("size", [0, 1, 27, 28, 4096, 1 << 20])
def test_round_trip(size: int) -> None:
    key = MasterKey.generate()
    plaintext = os.urandom(size)
    sealed = key.seal(plaintext)
    assert len(sealed) == size + key.overhead
    assert key.open(sealed) == plaintext


def test_seal_and_open_take_any_bytes_like() -> None:
    key = MasterKey.generate()
    sealed = key.seal(memoryview(bytearray(b"abc")))
    assert key.open(bytearray(sealed)) == b"abc"
    assert key.open(memoryview(sealed)) == b"abc"


def test_tampering_with_any_byte_is_detected() -> None:
    key = MasterKey.generate()
    sealed = key.seal(b"restore point manifest: 42 files")
    for offset in range(len(sealed)):
        for xor in (0x01, 0x80):
            changed = bytearray(sealed)
            changed[offset] ^= xor
            with pytest.raises(DecryptError):
                key.open(bytes(changed))


@pytest.mark.parametrize("cut", [0, 1, 12, 27, 28, 40])
def test_truncated_or_extended_objects_are_refused(cut: int) -> None:
    key = MasterKey.generate()
    sealed = key.seal(b"x" * 20)      # 48 bytes
    with pytest.raises(DecryptError, match="truncated|changed"):
        key.open(sealed[:cut])
    with pytest.raises(DecryptError):
        key.open(sealed + b"\0")


def test_another_key_cannot_open_and_says_why() -> None:
    sealed = MasterKey.generate().seal(b"secret data")
    with pytest.raises(DecryptError) as caught:
        MasterKey.generate().open(sealed)
    assert isinstance(caught.value, RepositoryError)
    message = str(caught.value)
    assert "changed" in message and "another" in message and "key" in message


def test_no_plaintext_in_sealed_output() -> None:
    key = MasterKey.generate()
    plaintext = b"/home/alice/Documents/tax-return-2026.pdf " * 100
    sealed = key.seal(plaintext)
    assert b"alice" not in sealed and b"tax-return" not in sealed
    assert key.to_bytes() not in sealed


def test_nonces_are_unique() -> None:
    key = MasterKey.generate()
    sealed = [key.seal(b"same plaintext") for _ in range(5000)]
    assert len({s[:12] for s in sealed}) == len(sealed)
    assert len(set(sealed)) == len(sealed)
    assert all(key.open(s) == b"same plaintext" for s in sealed)


def test_key_bytes_round_trip_and_validation() -> None:
    key = MasterKey.generate()
    raw = key.to_bytes()
    assert len(raw) == 32
    again = MasterKey.from_bytes(raw)
    assert again == key and again != MasterKey.generate()
    assert again.open(key.seal(b"data")) == b"data"
    assert pickle.loads(pickle.dumps(key)) == key
    with pytest.raises(ValueError):
        MasterKey.from_bytes(raw[:16])


def test_repr_hides_the_key() -> None:
    key = MasterKey.generate()
    assert key.to_bytes().hex() not in repr(key)
    assert str(list(key.to_bytes())) not in repr(key)


def test_derived_subkeys_differ_by_purpose() -> None:
    key = MasterKey.generate()
    ids = key.derive("agent-backup-console chunk ids v1")
    assert len(ids) == 32
    assert ids == MasterKey.from_bytes(key.to_bytes()).derive("agent-backup-console chunk ids v1")
    assert ids != key.derive("another purpose")
    assert ids != key.to_bytes()


def test_one_key_seals_and_opens_from_many_threads() -> None:
    key = MasterKey.generate()
    blobs = [os.urandom(64 << 10) for _ in range(64)]

    def round_trip(blob: bytes) -> bool:
        return key.open(key.seal(blob)) == blob

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(round_trip, blobs))


# -- key objects -------------------------------------------------------------

def test_create_and_unlock(backend: MemoryBackend) -> None:
    master, key_id = create_key(backend, PASSWORD, **FAST)
    assert set(key_objects(backend)) == {f"keys/{key_id}"}
    opened, opened_id = unlock(backend, PASSWORD)
    assert opened == master and opened_id == key_id
    assert opened.open(master.seal(b"pack")) == b"pack"


def test_default_parameters(backend: MemoryBackend) -> None:
    master, key_id = create_key(backend, PASSWORD)
    document = json.loads(backend.load(f"keys/{key_id}"))
    assert (document["kdf"], document["n"], document["r"], document["p"]) == \
        ("scrypt", DEFAULT_N, 8, 1)
    assert DEFAULT_N >= 2 ** 15
    assert unlock(backend, PASSWORD) == (master, key_id)


def test_key_object_format_and_no_secrets(backend: MemoryBackend) -> None:
    master, key_id = create_key(backend, PASSWORD, **FAST)
    raw = backend.load(f"keys/{key_id}")
    document = json.loads(raw)
    assert set(document) == {"created", "kdf", "n", "r", "p", "salt", "data", "check"}
    assert len(base64.b64decode(document["salt"])) >= 16
    assert len(base64.b64decode(document["data"])) == 32 + 28
    for secret in (PASSWORD.encode(), PASSWORD.encode("utf-16-le"), b"horse",
                   master.to_bytes(), base64.b64encode(master.to_bytes()),
                   master.to_bytes().hex().encode()):
        assert secret not in raw


def test_wrong_password(backend: MemoryBackend) -> None:
    create_key(backend, PASSWORD, **FAST)
    with pytest.raises(WrongPassword) as caught:
        unlock(backend, "Correct horse battery staple")
    message = str(caught.value)
    assert "memory:crypto" in message and "another of its passwords" in message
    assert "horse" not in message
    assert isinstance(caught.value, RepositoryError)


def test_several_passwords_open_the_same_master_key(backend: MemoryBackend) -> None:
    master, first = create_key(backend, PASSWORD, **FAST)
    second = add_key(backend, master, "second password", **FAST)
    third = add_key(backend, master, "päßwörd ünïcode", n=2 ** 11, r=4, p=2)
    assert len({first, second, third}) == 3
    assert unlock(backend, PASSWORD) == (master, first)
    assert unlock(backend, "second password") == (master, second)
    assert unlock(backend, "päßwörd ünïcode") == (master, third)
    # Same password, other Unicode normalisation (decomposed umlauts).
    decomposed = "pa\u0308ßwo\u0308rd u\u0308ni\u0308code"
    assert unlock(backend, decomposed) == (master, third)
    # Each object has its own salt.
    salts = {json.loads(raw)["salt"] for raw in key_objects(backend).values()}
    assert len(salts) == 3


def test_same_password_twice_gives_different_objects(backend: MemoryBackend) -> None:
    master, first = create_key(backend, PASSWORD, **FAST)
    second = add_key(backend, master, PASSWORD, **FAST)
    objects = key_objects(backend)
    assert objects[f"keys/{first}"] != objects[f"keys/{second}"]
    assert unlock(backend, PASSWORD)[0] == master


def test_empty_password_is_refused(backend: MemoryBackend) -> None:
    with pytest.raises(PasswordRequired):
        create_key(backend, "", **FAST)
    assert key_objects(backend) == {}
    master, _ = create_key(backend, PASSWORD, **FAST)
    with pytest.raises(PasswordRequired, match="memory:crypto.*password"):
        unlock(backend, "")
    with pytest.raises(PasswordRequired):
        add_key(backend, master, "", **FAST)


def test_unlock_without_keys(backend: MemoryBackend) -> None:
    with pytest.raises(RepositoryError, match="has no keys"):
        unlock(backend, PASSWORD)


@pytest.mark.parametrize("params", [
    {"n": 1000, "r": 8, "p": 1}, {"n": 1, "r": 8, "p": 1}, {"n": 2 ** 10, "r": 0, "p": 1},
    {"n": 2 ** 10, "r": 8, "p": 0}, {"n": 2 ** 24, "r": 8, "p": 1},
    {"n": 2 ** 10, "r": 8, "p": 1000}, {"n": True, "r": 8, "p": 1},
])
def test_bad_kdf_parameters_are_refused(backend: MemoryBackend, params: dict[str, int]) -> None:
    with pytest.raises(InvalidInput, match="Key derivation parameters refused"):
        create_key(backend, PASSWORD, **params)
    assert key_objects(backend) == {}


def test_remove_key(backend: MemoryBackend) -> None:
    master, first = create_key(backend, PASSWORD, **FAST)
    second = add_key(backend, master, "second password", **FAST)
    remove_key(backend, second, current_id=first)
    assert [info.id for info in list_keys(backend)] == [first]
    with pytest.raises(WrongPassword):
        unlock(backend, "second password")
    assert unlock(backend, PASSWORD) == (master, first)


def test_remove_refuses_the_current_key(backend: MemoryBackend) -> None:
    master, first = create_key(backend, PASSWORD, **FAST)
    second = add_key(backend, master, "second password", **FAST)
    with pytest.raises(KeyInUse, match="opened with"):
        remove_key(backend, first, current_id=first)
    assert len(list_keys(backend)) == 2
    remove_key(backend, first, current_id=second)
    assert unlock(backend, "second password") == (master, second)


def test_remove_refuses_the_last_key(backend: MemoryBackend) -> None:
    master, first = create_key(backend, PASSWORD, **FAST)
    second = add_key(backend, master, "second password", **FAST)
    remove_key(backend, first, current_id=second)
    # Opened with a key removed meanwhile by someone else: still the last key.
    with pytest.raises(KeyInUse, match="last key"):
        remove_key(backend, second, current_id=first)
    assert [info.id for info in list_keys(backend)] == [second]


@pytest.mark.parametrize("bad_id", ["0" * 32, "../config.json", "", "keys/x"])
def test_remove_unknown_key(backend: MemoryBackend, bad_id: str) -> None:
    master, first = create_key(backend, PASSWORD, **FAST)
    backend.save("config.json", b"{}")
    with pytest.raises(KeyNotFound) as caught:
        remove_key(backend, bad_id, current_id=first)
    message = str(caught.value)
    assert first in message and "horse" not in message
    assert base64.b64encode(master.to_bytes()).decode() not in message
    assert backend.exists("config.json") and len(list_keys(backend)) == 1


def test_list_keys(backend: MemoryBackend) -> None:
    master, first = create_key(backend, PASSWORD, **FAST)
    second = add_key(backend, master, "second password", **FAST)
    infos = list_keys(backend)
    assert {info.id for info in infos} == {first, second}
    assert all(info.created is not None and info.created.tzinfo is not None
               and not info.damaged for info in infos)
    assert infos == sorted(infos, key=lambda info: (info.created, info.id))


@pytest.mark.parametrize("content", [
    b"\xff\xfe not json", b"[1, 2]", b'{"kdf": "scrypt"}', b"",
])
def test_damaged_key_object_gives_a_clear_error(backend: MemoryBackend, content: bytes) -> None:
    backend.save("keys/" + "a" * 32, content)
    with pytest.raises(DamagedKey) as caught:
        unlock(backend, PASSWORD)
    assert "damaged" in str(caught.value) and "a" * 32 in str(caught.value)
    assert [(i.id, i.damaged) for i in list_keys(backend)] == [("a" * 32, True)]


def damage_field(backend: MemoryBackend, key_id: str, **fields: object) -> None:
    document = json.loads(backend.load(f"keys/{key_id}"))
    document.update(fields)
    backend.save(f"keys/{key_id}", json.dumps(document).encode())


@pytest.mark.parametrize("fields", [
    {"kdf": "argon2id"}, {"n": 2 ** 30}, {"n": "1024"}, {"p": -1}, {"salt": "@@@"},
    {"salt": 17}, {"data": "not base64!"}, {"created": "yesterday"}, {"salt": ""},
])
def test_damaged_fields_are_reported(backend: MemoryBackend, fields: dict[str, object]) -> None:
    master, key_id = create_key(backend, PASSWORD, **FAST)
    damage_field(backend, key_id, **fields)
    with pytest.raises(DamagedKey, match=f"keys/{key_id}.*damaged"):
        unlock(backend, PASSWORD)


def _flipped(text: str, at: int) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[at] ^= 1
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("field", ["data", "salt"])
def test_a_changed_byte_in_a_key_object_is_damage_not_a_wrong_password(
        backend: MemoryBackend, field: str) -> None:
    # A changed byte in the sealed key or its salt fails the GCM tag exactly as
    # a wrong password does: the checksum tells them apart.
    master, key_id = create_key(backend, PASSWORD, **FAST)
    document = json.loads(backend.load(f"keys/{key_id}"))
    damage_field(backend, key_id, **{field: _flipped(document[field], 20)})
    with pytest.raises(DamagedKey) as caught:
        unlock(backend, PASSWORD)
    message = str(caught.value)
    assert f"keys/{key_id}" in message and "checksum does not match" in message
    assert "password is not the problem" in message and "restored from a copy" in message
    assert [(i.id, i.damaged) for i in list_keys(backend)] == [(key_id, True)]


@pytest.mark.parametrize("fields", [{"check": "0" * 64}, {"created": "2021-01-01T00:00:00"}])
def test_a_key_object_changed_outside_its_sealed_key_still_opens(
        backend: MemoryBackend, fields: dict[str, str]) -> None:
    # the sealed key authenticates: the right password opens it, and the key is
    # listed as damaged so that it can be replaced
    master, key_id = create_key(backend, PASSWORD, **FAST)
    damage_field(backend, key_id, **fields)
    assert unlock(backend, PASSWORD) == (master, key_id)
    assert [(i.id, i.damaged) for i in list_keys(backend)] == [(key_id, True)]
    with pytest.raises(DamagedKey, match="checksum does not match"):
        unlock(backend, "not the password")


def test_a_key_object_without_a_checksum_still_opens(backend: MemoryBackend) -> None:
    # written before key objects had one: a changed byte cannot be told from a
    # wrong password there, and is reported as one (not a crash)
    master, key_id = create_key(backend, PASSWORD, **FAST)
    document = json.loads(backend.load(f"keys/{key_id}"))
    del document["check"]
    backend.save(f"keys/{key_id}", json.dumps(document).encode())
    assert unlock(backend, PASSWORD) == (master, key_id)
    damage_field(backend, key_id, data=_flipped(document["data"], 20))
    with pytest.raises(WrongPassword):
        unlock(backend, PASSWORD)


def test_a_sealed_key_of_the_wrong_size_is_damage(backend: MemoryBackend) -> None:
    master, key_id = create_key(backend, PASSWORD, **FAST)
    document = json.loads(backend.load(f"keys/{key_id}"))
    del document["check"]
    document["data"] = base64.b64encode(base64.b64decode(document["data"])[:-1]).decode()
    backend.save(f"keys/{key_id}", json.dumps(document).encode())
    with pytest.raises(DamagedKey, match="59 bytes, not 60"):
        unlock(backend, PASSWORD)


def test_a_damaged_key_does_not_stop_another_from_opening(backend: MemoryBackend) -> None:
    master, first = create_key(backend, PASSWORD, **FAST)
    second = add_key(backend, master, "second password", **FAST)
    backend.save(f"keys/{first}", b"garbage")
    assert unlock(backend, "second password") == (master, second)
    with pytest.raises(WrongPassword, match=f"damaged.*{first}"):
        unlock(backend, PASSWORD)
    infos = list_keys(backend)
    assert [(i.id, i.damaged) for i in infos] == [(second, False), (first, True)]
    remove_key(backend, first, current_id=second)
    assert [i.id for i in list_keys(backend)] == [second]


def test_objects_that_are_not_keys_are_ignored(backend: MemoryBackend) -> None:
    master, key_id = create_key(backend, PASSWORD, **FAST)
    backend.save("keys/README", b"not a key")
    backend.save("keysfoo", b"not a key either")
    assert [info.id for info in list_keys(backend)] == [key_id]
    assert unlock(backend, PASSWORD) == (master, key_id)


def test_every_key_damaged_names_each_problem(backend: MemoryBackend) -> None:
    backend.save("keys/" + "a" * 32, b"not json")
    backend.save("keys/" + "b" * 32, b'{"kdf": "scrypt"}')
    with pytest.raises(DamagedKey) as caught:
        unlock(backend, PASSWORD)
    message = str(caught.value)
    assert f"keys/{'a' * 32} (not JSON)" in message
    assert f"keys/{'b' * 32} (missing created" in message
