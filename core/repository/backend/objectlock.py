"""Immutability on S3: every object the repository needs is written with a
COMPLIANCE retention (S3 Object Lock), so nobody, the backup server's own
keys included, can delete or change its stored version before the date.

What this module adds to :class:`~.s3.S3Backend` once a repository is
immutable (``immutability.json`` says for how many days):

- **Writes** of repository objects (packs, index files, manifests, keys,
  config) carry ``ObjectLockMode=COMPLIANCE`` and a retain-until date N days
  ahead. Rewritable state is never locked: the lease's lock objects under
  ``locks/``, ``damaged.json`` and the list of retired objects.
- **Reads** trust the stored version: when the current version of a locked
  name is gone (a delete marker) or is not locked (someone overwrote it),
  the oldest version whose lock is still in force is read instead (names
  are written once, so the oldest is ours), else the newest locked one. A
  current version that is locked is read as it is (and checked, below).
- **Listings** show such names too, unless the repository retired them.
- **Removal** of a locked object retires it: it is recorded in
  ``immutability/pending.json`` with its lock date and hidden by a delete
  marker; :meth:`ObjectLock.purge` deletes its versions once the lock has
  expired (prune calls it), and :meth:`ObjectLock.extend` pushes the lock of
  objects still in use N days ahead again.
- **Content checks** fall back: whoever holds the keys can still write a
  *new* version of a name with a COMPLIANCE lock of their own, which then is
  the current, locked version. When what was read fails its content check
  (a hash, a decryption), the reader asks for the older locked versions
  (:meth:`ObjectLock.older`) and, the first that passes, adopts it
  (:meth:`ObjectLock.adopt`): it is read from then on, and the rejected
  newer version is recorded in :attr:`ObjectLock.rejections` (and passed to
  ``on_reject``) for the repository's damage report.
"""
from __future__ import annotations

import errno
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from core.repository.backend.base import BackendError, ObjectInfo
from core.repository.backend.lease import LOCK_PREFIX

# the S3 back end this serves (it imports this module: typed loosely here)
S3Backend = Any

log = logging.getLogger(__name__)

MODE = "COMPLIANCE"
PENDING = "immutability/pending.json"
DAMAGED = "damaged.json"
# names that are rewritten as a matter of course: never locked
REWRITABLE = (LOCK_PREFIX, DAMAGED, PENDING)
# a lock is pushed ahead again once less than N days minus this share of N is left
EXTEND_SLACK = 0.1
_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchVersion"}


def no_lock_message(bucket: str, endpoint: str) -> str:
    """How to make a bucket that can hold an immutable repository."""
    return (f"The bucket '{bucket}' on the S3 server at {endpoint} does not have Object Lock "
            "enabled, so it cannot keep backups immutable. Object Lock can only be turned on "
            "when a bucket is created: create a new bucket with it, e.g. `aws s3api "
            f"create-bucket --bucket NEW-BUCKET --object-lock-enabled-for-bucket --endpoint-url "
            f"{endpoint}` (an S3 CreateBucket with ObjectLockEnabledForBucket), then add the "
            "repository in that bucket")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Version:
    id: str
    size: int
    until: datetime | None      # its retain-until date; None: not locked


@dataclass
class Retired:
    """An object the repository no longer needs, kept until its lock expires."""

    name: str
    until: datetime
    point: dict[str, str] | None = None    # for a manifest: id, job, computer, created, type

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name, "until": self.until.isoformat()}
        if self.point is not None:
            doc["point"] = self.point
        return doc


@dataclass(frozen=True)
class Rejection:
    """A newer locked version whose content failed its check, and the older
    locked version read instead."""

    name: str
    rejected: str        # version id
    kept: str            # version id read instead
    why: str


@dataclass
class _State:
    genuine: dict[str, Version] = field(default_factory=dict)   # names read from an older version
    rejected: dict[str, set[str]] = field(default_factory=dict)  # version ids failing their check
    until: dict[str, datetime] = field(default_factory=dict)    # lock dates known
    pending: dict[str, Retired] | None = None


class ObjectLock:
    """The object-lock side of one S3 back end (see the module)."""

    def __init__(self, s3: S3Backend, days: int) -> None:
        if days < 1:
            raise ValueError("immutability needs at least 1 day")
        self._s3 = s3
        self.days = days
        # how long each lock lasts: N days (tests make it seconds to see one expire)
        self.period = timedelta(days=days)
        self._state = _State()
        self._mutex = threading.RLock()
        self.rejections: list[Rejection] = []
        self.on_reject: Callable[[Rejection], None] | None = None

    # -- which names -----------------------------------------------------------

    @staticmethod
    def locked(name: str) -> bool:
        return not name.startswith(REWRITABLE)

    def retain_until(self) -> datetime:
        return (utcnow() + self.period).replace(microsecond=0) + timedelta(seconds=1)

    def put_args(self, name: str) -> dict[str, Any]:
        if not self.locked(name):
            return {}
        until = self.retain_until()
        with self._mutex:
            self._state.genuine.pop(name, None)
            self._state.until[name] = until
        return {"ObjectLockMode": MODE, "ObjectLockRetainUntilDate": until}

    # -- S3 helpers ------------------------------------------------------------

    @property
    def _client(self) -> Any:
        return self._s3._client

    def _key(self, name: str) -> str:
        return str(self._s3._key(name))

    def _versions(self, prefix: str) -> Iterator[tuple[str, dict[str, Any], bool]]:
        """(name, entry, is_delete_marker) of every version under ``prefix``,
        newest first within a key."""
        args: dict[str, Any] = {"Bucket": self._s3.bucket, "Prefix": self._key(prefix)}
        cut = len(self._s3._key_prefix)
        while True:
            try:
                page = self._client.list_object_versions(**args)
            except (ClientError, BotoCoreError, OSError) as exc:
                raise self._s3._translate(exc, "list", prefix or None) from None
            for v in page.get("Versions") or ():
                yield v["Key"][cut:], v, False
            for m in page.get("DeleteMarkers") or ():
                yield m["Key"][cut:], m, True
            if not page.get("IsTruncated"):
                return
            args["KeyMarker"] = page.get("NextKeyMarker")
            args["VersionIdMarker"] = page.get("NextVersionIdMarker")

    def _head(self, name: str, version_id: str | None = None) -> dict[str, Any] | None:
        args: dict[str, Any] = {"Bucket": self._s3.bucket, "Key": self._key(name)}
        if version_id is not None:
            args["VersionId"] = version_id
        try:
            head: dict[str, Any] = self._client.head_object(**args)
            return head
        except ClientError as exc:
            if _missing(exc):
                return None
            raise self._s3._translate(exc, "read", name) from None
        except (BotoCoreError, OSError) as exc:
            raise self._s3._translate(exc, "read", name) from None

    def _object_versions(self, name: str) -> list[dict[str, Any]]:
        """The stored (not delete-marker) versions of ``name``, oldest first."""
        found = [v for n, v, marker in self._versions(name) if n == name and not marker]
        # the server lists a key's versions newest first; LastModified has whole
        # seconds, so versions of one second keep that order (reversed)
        return sorted(reversed(found), key=lambda v: v["LastModified"])

    def resolve(self, name: str) -> Version | None:
        """The version of ``name`` to trust: the oldest whose lock is in force,
        else the newest that was locked; None when no version was ever locked."""
        with self._mutex:
            cached = self._state.genuine.get(name)
        if cached is not None:
            return cached
        newest_locked = self._trusted(name)
        if newest_locked is not None:
            with self._mutex:
                self._state.genuine[name] = newest_locked
                self._state.until[name] = newest_locked.until or utcnow()
        return newest_locked

    def _trusted(self, name: str) -> Version | None:
        """:meth:`resolve`'s choice, not remembered."""
        now = utcnow()
        newest_locked: Version | None = None
        for v in self._object_versions(name):
            head = self._head(name, v["VersionId"])
            if head is None:
                continue
            until = _until(head)
            if until is None:
                continue
            version = Version(v["VersionId"], int(head["ContentLength"]), until)
            if until > now:
                newest_locked = version
                break
            newest_locked = version
        return newest_locked

    # -- reading ---------------------------------------------------------------

    def get(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """GET ``name`` (``args``: Bucket, Key, maybe Range), from the trusted
        version when the current one is gone or not locked."""
        with self._mutex:
            known = self._state.genuine.get(name)
        if known is None:
            try:
                response: dict[str, Any] = self._client.get_object(**args)
            except ClientError as exc:
                if not _missing(exc):
                    raise
                response = {}
            if response.get("ObjectLockMode") and not self._is_rejected(
                    name, response.get("VersionId")):
                return response
            known = self.resolve(name)
            if known is None:
                if response:
                    return response          # never locked: as it is
                raise _not_found(name)
            if response:
                log.warning("%s/%s was overwritten: reading its locked version %s",
                            self._s3.location, name, known.id)
            else:
                log.warning("%s/%s was deleted: reading its locked version %s",
                            self._s3.location, name, known.id)
        result: dict[str, Any] = self._client.get_object(**args, VersionId=known.id)
        return result

    def _is_rejected(self, name: str, version_id: str | None) -> bool:
        with self._mutex:
            return version_id is not None and version_id in self._state.rejected.get(name, ())

    # -- falling back past a newer version that fails its content check ----------

    def serving(self, name: str) -> str | None:
        """The version id reads of ``name`` get now; None: its current version."""
        with self._mutex:
            known = self._state.genuine.get(name)
        return known.id if known is not None else None

    def older(self, name: str, seen: str | None) -> tuple[str | None, list[Version]]:
        """(the version that was read, the locked versions older than it, newest
        first, none rejected before): ``seen`` is :meth:`serving` at the read."""
        stored = self._object_versions(name)          # oldest first
        ids = [v["VersionId"] for v in stored]
        read = seen if seen is not None else (ids[-1] if ids else None)
        if read is None or read not in ids:
            return read, []
        with self._mutex:
            rejected = set(self._state.rejected.get(name, ())) | {read}
        found: list[Version] = []
        for v in reversed(stored[:ids.index(read)]):
            if v["VersionId"] in rejected:
                continue
            head = self._head(name, v["VersionId"])
            until = _until(head) if head is not None else None
            if head is None or until is None:
                continue        # never locked: not ours to trust
            found.append(Version(v["VersionId"], int(head["ContentLength"]), until))
        return read, found

    def load_version(self, name: str, version_id: str, offset: int = 0,
                     length: int | None = None) -> bytes:
        args: dict[str, Any] = {"Bucket": self._s3.bucket, "Key": self._key(name),
                                "VersionId": version_id}
        if length is not None:
            args["Range"] = f"bytes={offset}-{offset + length - 1}"
        elif offset:
            args["Range"] = f"bytes={offset}-"
        try:
            response = self._client.get_object(**args)
            data: bytes = response["Body"].read()
        except (ClientError, BotoCoreError, OSError) as exc:
            raise self._s3._translate(exc, "read", name) from None
        if "Range" in args and not response.get("ContentRange"):
            data = data[offset:None if length is None else offset + length]
        return data

    def adopt(self, name: str, rejected: str | None, version: Version, why: str) -> None:
        """Read ``version`` of ``name`` from now on: the newer ``rejected`` one
        failed its content check (``why``)."""
        with self._mutex:
            bad = self._state.rejected.setdefault(name, set())
            fresh = rejected is not None and rejected not in bad
            if rejected is not None:
                bad.add(rejected)
            self._state.genuine[name] = version
            if version.until is not None:
                self._state.until[name] = version.until
            if not fresh:
                return
            rejection = Rejection(name, str(rejected), version.id, why)
            self.rejections.append(rejection)
            hook = self.on_reject
        log.warning("%s/%s: its newer version %s fails its check (%s): reading its older "
                    "locked version %s", self._s3.location, name, rejected, why, version.id)
        if hook is not None:
            hook(rejection)

    def size(self, name: str) -> int | None:
        """The trusted size of ``name``; None when it does not exist."""
        with self._mutex:
            adopted = self._state.genuine.get(name)
        if adopted is not None:
            return adopted.size
        head = self._head(name)
        if head is not None and head.get("ObjectLockMode") and not self._is_rejected(
                name, head.get("VersionId")):
            return int(head["ContentLength"])
        known = self.resolve(name)
        if known is not None:
            return known.size
        return int(head["ContentLength"]) if head is not None else None

    def listing(self, prefix: str) -> list[ObjectInfo]:
        by_name: dict[str, list[tuple[dict[str, Any], bool]]] = {}
        for name, entry, marker in self._versions(prefix):
            if name.endswith("/"):
                continue
            by_name.setdefault(name, []).append((entry, marker))
        retired = self.pending_names()
        found: list[ObjectInfo] = []
        for name, entries in by_name.items():
            latest = next((e for e in entries if e[0].get("IsLatest")), entries[0])
            stored = [e for e, marker in entries if not marker]
            if not stored:
                continue
            if not self.locked(name):
                if not latest[1]:
                    found.append(ObjectInfo(name, int(latest[0]["Size"])))
                continue
            if not latest[1] and len(stored) == 1:
                found.append(ObjectInfo(name, int(latest[0]["Size"])))
                continue
            if name in retired:
                continue
            with self._mutex:
                adopted = self._state.genuine.get(name)
            if adopted is not None:
                found.append(ObjectInfo(name, adopted.size))
                continue
            if not latest[1] and not self._is_rejected(name, latest[0]["VersionId"]):
                head = self._head(name, latest[0]["VersionId"])
                if head is not None and _until(head) is not None:
                    # a newer locked version: read (and checked) as it is; one
                    # that fails its check falls back to an older (see older).
                    # Its size is the oldest locked one's (ours, names being
                    # written once), so a size check is not fooled either.
                    trusted = self._trusted(name)
                    found.append(ObjectInfo(name, trusted.size if trusted is not None
                                            else int(latest[0]["Size"])))
                    continue
            known = self.resolve(name)
            if known is not None:
                found.append(ObjectInfo(name, known.size))
            elif not latest[1]:
                found.append(ObjectInfo(name, int(latest[0]["Size"])))
        return found

    # -- removing --------------------------------------------------------------

    def remove(self, name: str, point: dict[str, str] | None = None) -> None:
        """Delete a rewritable object for good; retire a locked one."""
        if not self.locked(name):
            self._delete_versions(name, strict=False)
            return
        until = self.lock_end(name)
        if until is None or until <= utcnow():
            if self._delete_versions(name, strict=False):
                return
            until = until or self.retain_until()
        self._add_pending(Retired(name, until, point))
        try:
            self._client.delete_object(Bucket=self._s3.bucket, Key=self._key(name))
        except ClientError as exc:
            if not _missing(exc):
                raise self._s3._translate(exc, "remove", name) from None
        except (BotoCoreError, OSError) as exc:
            raise self._s3._translate(exc, "remove", name) from None
        with self._mutex:
            self._state.genuine.pop(name, None)

    def lock_end(self, name: str) -> datetime | None:
        """The latest retain-until date of any stored version of ``name``."""
        with self._mutex:
            known = self._state.until.get(name)
        if known is not None:
            return known
        ends = []
        for v in self._object_versions(name):
            head = self._head(name, v["VersionId"])
            if head is not None and _until(head) is not None:
                ends.append(_until(head))
        end = max((e for e in ends if e is not None), default=None)
        if end is not None:
            with self._mutex:
                self._state.until[name] = end
        return end

    def _delete_versions(self, name: str, *, strict: bool) -> bool:
        """Delete every version and delete marker of ``name``; False when the
        server refused one (still locked)."""
        entries = [(e["VersionId"]) for n, e, _ in self._versions(name) if n == name]
        whole = True
        for version_id in entries:
            try:
                self._client.delete_object(Bucket=self._s3.bucket, Key=self._key(name),
                                           VersionId=version_id)
            except ClientError as exc:
                if _missing(exc):
                    continue
                if _code(exc) in ("AccessDenied", "403") and not strict:
                    whole = False
                    continue
                raise self._s3._translate(exc, "remove", name) from None
            except (BotoCoreError, OSError) as exc:
                raise self._s3._translate(exc, "remove", name) from None
        with self._mutex:
            self._state.genuine.pop(name, None)
            if whole:
                self._state.until.pop(name, None)
        return whole

    # -- the retired objects ---------------------------------------------------

    def _load_pending(self) -> dict[str, Retired]:
        with self._mutex:
            if self._state.pending is not None:
                return self._state.pending
        pending: dict[str, Retired] = {}
        try:
            response = self._client.get_object(Bucket=self._s3.bucket, Key=self._key(PENDING))
            raw: bytes = response["Body"].read()
        except ClientError as exc:
            if not _missing(exc):
                raise self._s3._translate(exc, "read", PENDING) from None
            raw = b""
        except (BotoCoreError, OSError) as exc:
            raise self._s3._translate(exc, "read", PENDING) from None
        if raw:
            sealer = self._s3.lock_sealer
            try:
                doc = json.loads(sealer.open(raw) if sealer is not None else raw)
                for item in doc.get("objects", []):
                    until = datetime.fromisoformat(item["until"])
                    point = item.get("point")
                    pending[item["name"]] = Retired(
                        item["name"], until, point if isinstance(point, dict) else None)
            except Exception as exc:   # noqa: BLE001 - a damaged list: nothing is lost by it
                if sealer is None:
                    return pending     # sealed, and the key is not known yet: read it later
                log.warning("%s/%s cannot be read (%s): objects retired earlier are "
                            "deleted once found again", self._s3.location, PENDING, exc)
        with self._mutex:
            if self._state.pending is None:
                self._state.pending = pending
            return self._state.pending

    def _save_pending(self) -> None:
        with self._mutex:
            items = [r.document() for r in sorted(self._load_pending().values(),
                                                  key=lambda r: r.name)]
        body = json.dumps({"objects": items}, sort_keys=True).encode()
        sealer = self._s3.lock_sealer
        self._s3.save(PENDING, sealer.seal(body) if sealer is not None else body)

    def _add_pending(self, retired: Retired) -> None:
        with self._mutex:
            self._load_pending()[retired.name] = retired
        self._save_pending()

    def reload(self) -> None:
        """Read the retired objects again (once the repository's key is known)."""
        with self._mutex:
            self._state.pending = None

    def pending_names(self) -> set[str]:
        return set(self._load_pending())

    def retired(self) -> list[Retired]:
        """Objects retired and still under lock."""
        return sorted(self._load_pending().values(), key=lambda r: (r.until, r.name))

    def purge(self) -> tuple[int, int]:
        """Delete the retired objects whose lock has expired; returns (deleted,
        still kept)."""
        now = utcnow()
        pending = self._load_pending()
        deleted = 0
        for retired in list(pending.values()):
            if retired.until > now:
                continue
            if self._delete_versions(retired.name, strict=False):
                with self._mutex:
                    pending.pop(retired.name, None)
                deleted += 1
            else:   # its lock was extended meanwhile: look again later
                with self._mutex:
                    self._state.until.pop(retired.name, None)
                retired.until = self.lock_end(retired.name) or self.retain_until()
        if deleted:
            self._save_pending()
        return deleted, len(pending)

    # -- extending -------------------------------------------------------------

    def extend(self, names: Iterable[str]) -> int:
        """Push the lock of every named object still needed to N days from
        now where less than about N days are left; returns how many."""
        target = self.retain_until()
        enough = utcnow() + self.period * (1 - EXTEND_SLACK)
        extended = 0
        retired = self.pending_names()
        for name in names:
            if not self.locked(name) or name in retired:
                continue
            with self._mutex:
                known_until = self._state.until.get(name)
                known = self._state.genuine.get(name)
            if known_until is not None and known_until >= enough:
                continue
            version_id: str | None
            if known is not None:
                version_id, until = known.id, known.until
            else:
                head = self._head(name)
                if head is not None and head.get("ObjectLockMode"):
                    version_id, until = head.get("VersionId"), _until(head)
                else:
                    found = self.resolve(name)
                    if found is None and head is None:
                        continue
                    version_id = found.id if found is not None else (
                        head.get("VersionId") if head is not None else None)
                    until = found.until if found is not None else None
            if until is not None and until >= enough:
                with self._mutex:
                    self._state.until[name] = until
                continue
            args: dict[str, Any] = {"Bucket": self._s3.bucket, "Key": self._key(name),
                                    "Retention": {"Mode": MODE, "RetainUntilDate": target}}
            if version_id:
                args["VersionId"] = version_id
            try:
                self._client.put_object_retention(**args)
            except (ClientError, BotoCoreError, OSError) as exc:
                raise self._s3._translate(exc, "extend the lock of", name) from None
            with self._mutex:
                self._state.until[name] = target
                if known is not None:
                    self._state.genuine[name] = Version(known.id, known.size, target)
            extended += 1
        return extended


def check_bucket(s3: S3Backend) -> None:
    """OSError (EINVAL) unless the bucket has Object Lock enabled."""
    try:
        answer = s3._client.get_object_lock_configuration(Bucket=s3.bucket)
        enabled = answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
    except ClientError as exc:
        code = _code(exc)
        if code not in ("ObjectLockConfigurationNotFoundError", "ObjectLockConfigurationNotFound",
                        "NotImplemented", "InvalidRequest", "MethodNotAllowed", "404", "501"):
            raise s3._translate(exc, "read the Object Lock configuration of") from None
        enabled = None
    except (BotoCoreError, OSError) as exc:
        raise s3._translate(exc, "read the Object Lock configuration of") from None
    if enabled != "Enabled":
        raise NoObjectLock(no_lock_message(s3.bucket, s3.endpoint))


class NoObjectLock(BackendError):
    """The bucket cannot hold locked objects; ``str()`` is the message."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EINVAL, message)

    def __str__(self) -> str:
        return str(self.strerror)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _missing(exc: ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return _code(exc) in _MISSING or status == 404


def _until(head: dict[str, Any]) -> datetime | None:
    value = head.get("ObjectLockRetainUntilDate")
    if not isinstance(value, datetime):
        return None
    return value.astimezone(timezone.utc)


def _not_found(name: str) -> ClientError:
    return ClientError({"Error": {"Code": "NoSuchKey", "Message": f"{name} does not exist"},
                        "ResponseMetadata": {"HTTPStatusCode": 404}}, "GetObject")
