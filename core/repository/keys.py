"""Key objects: the repository's master key, wrapped under each of its passwords.

Each password has one object ``keys/<id>`` in the back end, JSON::

    {"created": "<ISO 8601 UTC>", "kdf": "scrypt", "n": 32768, "r": 8, "p": 1,
     "salt": "<base64>", "data": "<base64>", "check": "<hex>"}

``data`` is the master key sealed (AES-256-GCM, see ``crypto.MasterKey``) under
a key derived from the password with scrypt, which is memory-hard so that
guessing passwords costs memory as well as time.

``check`` is the SHA-256 of the other fields (canonical JSON), with no secret
in it: a changed byte anywhere in salt or data would otherwise fail the GCM
tag exactly as a wrong password does, and the operator would be told to fix a
password that is right. With it, damage is named as damage. Key objects
written before it have no ``check``; for them the two cannot be told apart.

Passwords are NFC-normalised (the same password typed on two systems gives the
same bytes); they are never logged, stored, or put in a message.

Callers hold the repository's exclusive lock while adding or removing keys."""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from core.errors import (  # defined there, as every error that crosses the wire
    DamagedKey as DamagedKey,
    KeyInUse as KeyInUse,
    KeyNotFound as KeyNotFound,
    PasswordRequired as PasswordRequired,
    WrongPassword as WrongPassword,
)
from core.errors import InvalidInput, RepositoryError

from core.repository import immutability
from core.repository.backend.base import Backend, ObjectNotFound
from core.repository.crypto import KEY_SIZE, NONCE_SIZE, TAG_SIZE, DecryptError, MasterKey

PREFIX = "keys/"
SALT_SIZE = 32
DEFAULT_N = 2 ** 15
DEFAULT_R = 8
DEFAULT_P = 1
# Bounds on what a key object may ask for, so a forged object cannot make an
# unlock allocate gigabytes or run for minutes.
MAX_MEMORY = 1 << 30          # 128 * r * n bytes
MAX_P = 16
_ID = re.compile(r"[0-9a-f]{32}")
_FIELDS = ("created", "kdf", "n", "r", "p", "salt", "data")
_SEALED_SIZE = NONCE_SIZE + KEY_SIZE + TAG_SIZE


@dataclass(frozen=True)
class KeyInfo:
    id: str
    created: datetime | None    # None when the key object is damaged
    damaged: bool = False


@dataclass(frozen=True)
class _KdfParams:
    n: int
    r: int
    p: int
    salt: bytes

    def derive(self, password: bytes) -> MasterKey:
        kdf = Scrypt(salt=self.salt, length=KEY_SIZE, n=self.n, r=self.r, p=self.p)
        try:
            return MasterKey(kdf.derive(password))
        except MemoryError:
            raise RepositoryError(
                f"Not enough memory to derive a key with scrypt (n={self.n}, r={self.r}, "
                f"needs {128 * self.r * self.n >> 20} MiB): close other programs and "
                "try again.") from None


@dataclass(frozen=True)
class _KeyObject:
    id: str
    created: datetime
    kdf: _KdfParams
    data: bytes
    damage: str | None = None   # why its checksum says it was changed


# -- public API --------------------------------------------------------------

def create_key(backend: Backend, password: str, *, n: int = DEFAULT_N, r: int = DEFAULT_R,
               p: int = DEFAULT_P) -> tuple[MasterKey, str]:
    """A new master key and its first key object; returns both and the key's id."""
    master = MasterKey.generate()
    key_id = add_key(backend, master, password, n=n, r=r, p=p)
    return master, key_id


def add_key(backend: Backend, master: MasterKey, password: str, *, n: int = DEFAULT_N,
            r: int = DEFAULT_R, p: int = DEFAULT_P) -> str:
    """Store the master key under another password; returns the new key's id."""
    secret = _password_bytes(password, backend, opening=False)
    problem = _kdf_problem(n, r, p)
    if problem:
        raise InvalidInput(f"Key derivation parameters refused: {problem}.")
    params = _KdfParams(n, r, p, os.urandom(SALT_SIZE))
    sealed = params.derive(secret).seal(master.to_bytes())
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    document: dict[str, Any] = {"created": created, "kdf": "scrypt", "n": n, "r": r, "p": p,
                                "salt": _b64(params.salt), "data": _b64(sealed)}
    document["check"] = _checksum(document)
    key_id = secrets.token_hex(16)
    backend.save(PREFIX + key_id, json.dumps(document, indent=1).encode())
    return key_id


def unlock(backend: Backend, password: str) -> tuple[MasterKey, str]:
    """The master key and the id of the key object the password opens."""
    secret = _password_bytes(password, backend, opening=True)
    damaged: list[DamagedKey] = []
    found = 0
    lock = immutability.object_lock(backend)
    for key_id in _key_ids(backend):
        seen = lock.serving(PREFIX + key_id) if lock is not None else None
        try:
            key = _load(backend, key_id)
        except ObjectNotFound:
            continue            # removed meanwhile
        except DamagedKey as error:
            opened = _older_version_opens(backend, key_id, secret, seen, error.why)
            if opened is not None:
                return opened, key_id
            damaged.append(error)
            continue
        try:
            # A key whose checksum is off is tried all the same: if the sealed
            # key authenticates, only the checksum or a field around it was hit.
            raw = key.kdf.derive(secret).open(key.data)
        except DecryptError:
            # on an immutable repository an older locked version may be ours
            opened = _older_version_opens(backend, key_id, secret, seen,
                                          "the password does not open it")
            if opened is not None:
                return opened, key_id
            if key.damage is not None:
                damaged.append(_damaged(backend, key_id, key.damage))
            else:
                found += 1      # intact: the password is not this key's
            continue
        if len(raw) != KEY_SIZE:
            damaged.append(_damaged(backend, key_id, "the sealed key has the wrong size"))
            continue
        return MasterKey(raw), key_id
    if not found and not damaged:
        raise RepositoryError(
            f"Repository {backend.location} has no keys: it is not encrypted, or its "
            "keys/ folder was deleted. Restore keys/ from a copy of the repository.")
    if not found and len(damaged) == 1:
        only = damaged[0]
        raise DamagedKey(
            f"The only key object of repository {backend.location}, keys/{only.key_id}, is "
            f"damaged ({only.why}): the password is not the problem, but the repository "
            f"cannot be opened until keys/{only.key_id} is restored from a copy of the "
            "repository.", only.key_id, only.why)
    if not found:
        which = "; ".join(f"keys/{error.key_id} ({error.why})" for error in damaged)
        raise DamagedKey(
            f"Every key object of repository {backend.location} is damaged: {which}. The "
            "repository cannot be opened: restore the keys/ folder from a copy of it.")
    note = ("" if not damaged else f" ({len(damaged)} damaged key object(s) were skipped: "
            f"{', '.join('keys/' + error.key_id for error in damaged)})")
    raise WrongPassword(f"The password does not open repository {backend.location}: "
                        f"check it, or use another of its passwords{note}.")


def _older_version_opens(backend: Backend, key_id: str, secret: bytes, seen: str | None,
                         why: str) -> MasterKey | None:
    """The master key from an older locked version of ``keys/<id>`` that the
    password opens (an immutable repository whose key object was written
    over), adopted from then on; None when there is none."""
    if immutability.object_lock(backend) is None:
        return None

    def opens(raw: bytes) -> MasterKey:
        key = _parse(backend, key_id, raw)
        master = key.kdf.derive(secret).open(key.data)
        if len(master) != KEY_SIZE:
            raise ValueError("the sealed key has the wrong size")
        return MasterKey(master)

    done, master = immutability.fall_back(backend, PREFIX + key_id, seen, why, opens)
    return master if done else None


def remove_key(backend: Backend, key_id: str, *, current_id: str) -> None:
    """Remove a password. Refuses the key the repository was opened with and
    the last key, which would lock everyone out."""
    ids = sorted(_key_ids(backend))
    if key_id not in ids:
        listed = ", ".join(ids) if ids else "none"
        raise KeyNotFound(f"Repository {backend.location} has no key {key_id!r}; its keys "
                          f"are: {listed}.")
    if key_id == current_id:
        raise KeyInUse(f"Key {key_id} is the one the repository was opened with: open it "
                       "with another of its passwords to remove this one.")
    if len(ids) <= 1:
        raise KeyInUse(f"Key {key_id} is the last key of repository {backend.location}: "
                       "removing it would make every backup unreadable. Add another "
                       "password first.")
    backend.remove(PREFIX + key_id)


def list_keys(backend: Backend) -> list[KeyInfo]:
    """Every key, oldest first; damaged ones last, with ``damaged=True``."""
    good: list[KeyInfo] = []
    bad: list[KeyInfo] = []
    for key_id in _key_ids(backend):
        try:
            key = _load(backend, key_id)
        except ObjectNotFound:
            continue
        except DamagedKey:
            bad.append(KeyInfo(key_id, None, damaged=True))
            continue
        if key.damage is not None:
            bad.append(KeyInfo(key_id, None, damaged=True))
            continue
        good.append(KeyInfo(key_id, key.created))
    good.sort(key=lambda info: (info.created, info.id))
    bad.sort(key=lambda info: info.id)
    return good + bad


# -- helpers -----------------------------------------------------------------

def _password_bytes(password: object, backend: Backend, *, opening: bool) -> bytes:
    if not isinstance(password, str) or not password:
        if opening:
            raise PasswordRequired(f"Repository {backend.location} is encrypted: give its "
                                   "password.")
        raise PasswordRequired("An encrypted repository needs a password: an empty one "
                               "is refused.")
    return unicodedata.normalize("NFC", password).encode("utf-8")


def _kdf_problem(n: object, r: object, p: object) -> str | None:
    for name, value in (("n", n), ("r", r), ("p", p)):
        if type(value) is not int or value < 1:
            return f"{name} must be a positive whole number"
    assert isinstance(n, int) and isinstance(r, int) and isinstance(p, int)
    if n < 2 or n & (n - 1):
        return "n must be a power of 2 greater than 1"
    if 128 * r * n > MAX_MEMORY:
        return f"n and r need {128 * r * n >> 20} MiB, more than the {MAX_MEMORY >> 20} MiB allowed"
    if p > MAX_P:
        return f"p must be at most {MAX_P}"
    return None


def _key_ids(backend: Backend) -> Iterator[str]:
    for info in backend.list(PREFIX):
        key_id = info.name[len(PREFIX):]
        if _ID.fullmatch(key_id):
            yield key_id


def _load(backend: Backend, key_id: str) -> _KeyObject:
    return _parse(backend, key_id, backend.load(PREFIX + key_id))


def _parse(backend: Backend, key_id: str, raw: bytes) -> _KeyObject:
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _damaged(backend, key_id, "not JSON") from None
    if not isinstance(document, dict):
        raise _damaged(backend, key_id, "not a JSON object")
    missing = [field for field in _FIELDS if field not in document]
    if missing:
        raise _damaged(backend, key_id, f"missing {', '.join(missing)}")
    if document["kdf"] != "scrypt":
        raise _damaged(backend, key_id, f"unknown key derivation {str(document['kdf'])[:40]!r}")
    problem = _kdf_problem(document["n"], document["r"], document["p"])
    if problem:
        raise _damaged(backend, key_id, problem)
    try:
        created = datetime.fromisoformat(document["created"])
        salt = _unb64(document["salt"])
        data = _unb64(document["data"])
    except (TypeError, ValueError, binascii.Error):
        raise _damaged(backend, key_id, "created, salt or data is not valid") from None
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    if len(salt) < 16:
        raise _damaged(backend, key_id, "salt is too short")
    if len(data) != _SEALED_SIZE:
        raise _damaged(backend, key_id, f"the sealed key is {len(data)} bytes, not "
                                        f"{_SEALED_SIZE}")
    damage = None
    if "check" in document and document["check"] != _checksum(document):
        damage = "its checksum does not match its contents: bytes of it were changed"
    return _KeyObject(key_id, created, _KdfParams(document["n"], document["r"],
                                                  document["p"], salt), data, damage)


def _checksum(document: dict[str, Any]) -> str:
    """SHA-256 of the key object's fields other than ``check``, as canonical JSON."""
    fields = {name: document[name] for name in _FIELDS}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _damaged(backend: Backend, key_id: str, why: str) -> DamagedKey:
    return DamagedKey(f"Key object keys/{key_id} of repository {backend.location} is damaged "
                      f"({why}): open the repository with another password and remove it, "
                      "or restore it from a copy.", key_id, why)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise TypeError("not a string")
    return base64.b64decode(text.encode("ascii"), validate=True)
