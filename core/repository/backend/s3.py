"""The S3 back end: objects in a bucket of any S3-compatible server (AWS,
MinIO, SeaweedFS, ...), addressed restic-style as
``s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX]``.

One PUT per object (atomic on S3: readers see the old object or the whole
new one), ranged GETs for blobs, paginated listings. The repository lock is a
lease (see :mod:`.lease`): lock objects under ``locks/`` that the holder
rewrites while it holds the lock; their age is measured with the server's
clock (``LastModified`` against the ``Date`` of the listing), so the clocks of
the clients do not matter.

Credentials live only inside the boto3 client: they are in no message, no
``repr`` and, because botocore's DEBUG records carry signed request headers,
botocore's loggers are kept at WARNING unless the application set them.
"""
from __future__ import annotations

import base64
import errno
import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError, ClientError, ConnectionClosedError, ConnectTimeoutError,
    EndpointConnectionError, ReadTimeoutError,
)

from core.repository.backend.base import BackendError, LockCancel, ObjectInfo, ObjectNotFound, Usage
from core.repository.backend.lease import DEFAULT_LEASE_SECONDS, LOCK_PREFIX, LeaseLock, acquire_lease
from core.repository.backend.objectlock import ObjectLock, check_bucket

__all__ = ["S3Backend", "parse_s3_url"]

DEFAULT_REGION = "us-east-1"
CONNECT_TIMEOUT = 3.0     # an unreachable server fails in seconds, not minutes
READ_TIMEOUT = 60.0       # per socket read: a slow server, not a large object
MAX_ATTEMPTS = 3
_USAGE_TTL = 60.0

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403",
           "InvalidToken", "ExpiredToken", "AccountProblem", "AllAccessDisabled"}
_FULL = {"QuotaExceeded", "InsufficientStorage", "507"}

_QUIET_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3")


def _quiet_sdk_logging() -> None:
    """botocore logs each signed request (with the access key ID) at DEBUG:
    keep the SDK's loggers at WARNING unless the application chose a level."""
    for name in _QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


def parse_s3_url(url: str) -> tuple[str, str, str]:
    """``s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX]`` -> (endpoint, bucket, prefix).

    ``s3:HOST/BUCKET`` (no scheme) means https, as in restic. ValueError names
    what is wrong with a bad URL."""
    example = "s3:https://HOST[:PORT]/BUCKET[/PREFIX]"
    if not isinstance(url, str) or url[:3].lower() != "s3:":
        raise ValueError(f"An S3 repository URL starts with 's3:', like {example}.")
    rest = url[3:].strip()
    if "://" not in rest:
        rest = "https://" + rest.lstrip("/")
    try:
        parts = urlsplit(rest)
        port = parts.port
    except ValueError:
        raise ValueError(f"The S3 URL has a bad host or port; write it like {example}.") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"The S3 URL's scheme must be http or https, not '{parts.scheme}'; "
                         f"write it like {example}.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError("Do not put credentials in the S3 URL: enter the access key ID and "
                         "secret access key in their own fields.")
    if not parts.hostname:
        raise ValueError(f"The S3 URL names no server; write it like {example}.")
    if parts.query or parts.fragment:
        raise ValueError(f"The S3 URL must not have '?' or '#' parts; write it like {example}.")
    if port is not None and port == 0:
        raise ValueError("The S3 URL's port must be between 1 and 65535.")
    segments = parts.path.strip("/").split("/") if parts.path.strip("/") else []
    if not segments:
        raise ValueError(f"The S3 URL names no bucket; write it like {example}.")
    bucket, prefix_parts = segments[0], segments[1:]
    if not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise ValueError(f"'{bucket}' is not a valid S3 bucket name: use 3 to 63 lowercase "
                         "letters, digits, dots and hyphens, starting and ending with a letter "
                         "or digit.")
    for seg in prefix_parts:
        if seg in ("", ".", ".."):
            raise ValueError(f"The S3 URL's path after the bucket has an empty, '.' or '..' "
                             f"part; write it like {example}.")
    host = parts.hostname
    if ":" in host:                 # IPv6 literal
        host = f"[{host}]"
    endpoint = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    return endpoint, bucket, "/".join(prefix_parts)


class S3Error(BackendError):
    """A failed S3 request; ``str()`` is the message alone (no "[Errno n]")."""

    def __str__(self) -> str:
        return str(self.strerror)


class S3ObjectNotFound(ObjectNotFound):
    def __str__(self) -> str:
        return str(self.strerror)


def _error(message: str, code: int | None = None, cls: type[OSError] = S3Error) -> OSError:
    """An OSError whose str() and strerror are both the message, without a
    final period as the system's are (the repository shows ``{exc.strerror}.
    Check ...``), and whose errno is set where one applies."""
    message = message.rstrip(".")
    exc = cls(message)
    exc.errno = code
    exc.strerror = message
    return exc


class S3Backend:
    kind = "s3"
    lock_sealer: Any = None    # an encrypted repository's master key (see lease)
    object_lock: ObjectLock | None = None   # an immutable repository (see objectlock)

    def __init__(self, endpoint: str, bucket: str, prefix: str, access_key_id: str,
                 secret_access_key: str, *, region: str = DEFAULT_REGION,
                 lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT,
                 max_attempts: int = MAX_ATTEMPTS) -> None:
        _quiet_sdk_logging()
        self.endpoint = endpoint.rstrip("/")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.lease_seconds = lease_seconds
        self._key_prefix = f"{self.prefix}/" if self.prefix else ""
        config = Config(
            region_name=region or DEFAULT_REGION,
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            # Content-MD5 on every PUT instead of the newer trailing checksums
            # that some S3-compatible servers reject.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            user_agent_extra="agent-backup-console",
        )
        try:
            session = boto3.session.Session(aws_access_key_id=access_key_id,
                                            aws_secret_access_key=secret_access_key)
            self._client = session.client("s3", endpoint_url=self.endpoint, config=config)
            # opening tries once: a wrong or dead endpoint is reported in seconds;
            # the operations of a running backup retry
            self._probe = session.client("s3", endpoint_url=self.endpoint, config=config.merge(
                Config(retries={"mode": "standard", "total_max_attempts": 1})))
        except (BotoCoreError, ValueError) as exc:
            raise _error(f"Cannot use the S3 endpoint {self.endpoint}: {exc}. Check the URL.",
                         errno.EINVAL) from None
        self._usage: tuple[float, int] | None = None
        self._usage_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, access_key_id: str, secret_access_key: str, *,
                 create_bucket: bool = False, **options: Any) -> S3Backend:
        """Parse ``url``, connect and check the bucket (creating it with
        ``create_bucket``). ValueError for a bad URL, BackendError when the
        server cannot be reached, refuses the keys or has no such bucket."""
        endpoint, bucket, prefix = parse_s3_url(url)
        if not access_key_id or not secret_access_key:
            raise ValueError("An S3 repository needs an access key ID and a secret access key.")
        backend = cls(endpoint, bucket, prefix, access_key_id, secret_access_key, **options)
        try:
            backend.check(create_bucket=create_bucket)
        except BaseException:
            backend.close()
            raise
        return backend

    # -- identity ------------------------------------------------------------

    @property
    def location(self) -> str:
        return f"s3:{self.endpoint}/{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")

    def __repr__(self) -> str:
        return f"S3Backend({self.location!r})"

    def _key(self, name: str) -> str:
        return self._key_prefix + name

    # -- errors --------------------------------------------------------------

    def _translate(self, exc: Exception, action: str, name: str | None = None) -> OSError:
        where = f"{self.location}/{name}" if name is not None else self.location
        if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
            return _error(f"Cannot reach the S3 server at {self.endpoint} (while trying to "
                          f"{action}): check the URL, that the server is running and the "
                          "network.", errno.EHOSTUNREACH)
        if isinstance(exc, (ReadTimeoutError, ConnectionClosedError)):
            return _error(f"The S3 server at {self.endpoint} stopped answering while trying to "
                          f"{action} {where}. Check the server and the network, then try "
                          "again.", errno.ETIMEDOUT)
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "NoSuchBucket":
                return _error(f"The bucket '{self.bucket}' does not exist on the S3 server at "
                              f"{self.endpoint}. Create it, or check the URL.", errno.ENOENT)
            if name is not None and (code in _NOT_FOUND or status == 404):
                return _error(f"{where} does not exist", errno.ENOENT, S3ObjectNotFound)
            if code in _DENIED or status == 403:
                why = {
                    "InvalidAccessKeyId": "the access key ID is not known to the server",
                    "SignatureDoesNotMatch": "the secret access key is wrong",
                }.get(code, "the access key may not use this bucket, or the keys are wrong")
                return _error(f"The S3 server at {self.endpoint} denied access to bucket "
                              f"'{self.bucket}' ({why}). Check the access key ID and secret "
                              "access key.", errno.EACCES)
            if code in _FULL or status == 507:
                return _error(f"The S3 storage at {self.endpoint} is full or over its quota "
                              f"while trying to {action} {where}.", errno.ENOSPC)
            message = str(err.get("Message") or code or status)
            return _error(f"The S3 server at {self.endpoint} could not {action} {where}: "
                          f"{message} ({code or status}).", errno.EIO)
        if isinstance(exc, BotoCoreError):
            return _error(f"S3 request to {self.endpoint} failed while trying to {action} "
                          f"{where}: {exc}.", errno.EIO)
        return _error(f"S3 request to {self.endpoint} failed while trying to {action} {where}: "
                      f"{exc}.", getattr(exc, "errno", None) or errno.EIO)

    # -- bucket --------------------------------------------------------------

    def check(self, *, create_bucket: bool = False) -> None:
        """Reach the server with these keys and make sure the bucket exists."""
        try:
            self._probe.list_objects_v2(Bucket=self.bucket, Prefix=self._key_prefix, MaxKeys=1)
            return
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchBucket" or not create_bucket:
                raise self._translate(exc, "open") from None
        except (BotoCoreError, OSError) as exc:
            raise self._translate(exc, "open") from None
        try:
            self._client.create_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise self._translate(exc, "create the bucket") from None
        except (BotoCoreError, OSError) as exc:
            raise self._translate(exc, "create the bucket") from None

    def enable_object_lock(self, days: int) -> None:
        """Write every repository object with a COMPLIANCE retention of
        ``days`` from now on; OSError (EINVAL) when the bucket has no Object
        Lock, with how to make one that has."""
        check_bucket(self)
        if self.object_lock is None or self.object_lock.days != days:
            self.object_lock = ObjectLock(self, days)

    # -- objects -------------------------------------------------------------

    def save(self, name: str, data: bytes | bytearray | memoryview) -> None:
        """The one write point: an immutable repository's objects get their
        lock here, in the same PUT."""
        body = data if isinstance(data, bytes) else bytes(data)
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        locked = self.object_lock.put_args(name) if self.object_lock is not None else {}
        try:
            self._client.put_object(Bucket=self.bucket, Key=self._key(name), Body=body,
                                    ContentMD5=md5, **locked)
        except (ClientError, BotoCoreError, OSError) as exc:
            raise self._translate(exc, "write", name) from None
        self._stored(name, len(body))

    def _stored(self, name: str, added: int | None) -> None:
        """Keep usage() current without listing again: a new object adds its
        size (rewrites are rare: index and manifests are new names); a
        removal, whose size is unknown here, counts again next time. Lease
        refreshes are not data."""
        if name.startswith(LOCK_PREFIX):
            return
        with self._usage_lock:
            if added is None or self._usage is None:
                self._usage = None
            else:
                self._usage = (self._usage[0], self._usage[1] + added)

    def load(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        if offset < 0 or (length is not None and length < 0):
            raise ValueError(f"bad range offset={offset} length={length}")
        if length == 0:
            self.stat(name)
            return b""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(name)}
        if length is not None:
            args["Range"] = f"bytes={offset}-{offset + length - 1}"
        elif offset:
            args["Range"] = f"bytes={offset}-"
        try:
            if self.object_lock is not None and self.object_lock.locked(name):
                response = self.object_lock.get(name, args)
            else:
                response = self._client.get_object(**args)
            data: bytes = response["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""          # the range starts at or past the end
            raise self._translate(exc, "read", name) from None
        except (BotoCoreError, OSError) as exc:
            raise self._translate(exc, "read", name) from None
        if "Range" in args and not response.get("ContentRange"):
            # a server that ignored the Range header sent the whole object
            end = None if length is None else offset + length
            data = data[offset:end]
        return data

    def stat(self, name: str) -> ObjectInfo:
        if self.object_lock is not None and self.object_lock.locked(name):
            try:
                size = self.object_lock.size(name)
            except (ClientError, BotoCoreError, OSError) as exc:
                raise self._translate(exc, "read", name) from None
            if size is None:
                raise _error(f"{self.location}/{name} does not exist", errno.ENOENT,
                             S3ObjectNotFound)
            return ObjectInfo(name, size)
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=self._key(name))
        except (ClientError, BotoCoreError, OSError) as exc:
            raise self._translate(exc, "read", name) from None
        return ObjectInfo(name, int(head["ContentLength"]))

    def exists(self, name: str) -> bool:
        try:
            self.stat(name)
        except ObjectNotFound:
            return False
        return True

    def _pages(self, prefix: str) -> Iterator[dict[str, Any]]:
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self._key(prefix)}
        while True:
            try:
                page = self._client.list_objects_v2(**args)
            except (ClientError, BotoCoreError, OSError) as exc:
                raise self._translate(exc, "list", prefix or None) from None
            yield page
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            args["ContinuationToken"] = token

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every page is fetched before this returns, so a failure is raised
        here, where the caller handles it, as with the other back ends."""
        if self.object_lock is not None:
            return iter(self.object_lock.listing(prefix))
        cut = len(self._key_prefix)
        found = [ObjectInfo(obj["Key"][cut:], int(obj["Size"]))
                 for page in self._pages(prefix) for obj in page.get("Contents", ())
                 if not obj["Key"].endswith("/")]   # folder markers made by other tools
        return iter(found)

    def object_ages(self, prefix: str) -> dict[str, float]:
        """Seconds since each object under ``prefix`` was last written, by the
        server's clock: its ``Date`` header minus the object's ``LastModified``
        (both whole seconds: see ``clock_granularity``)."""
        cut = len(self._key_prefix)
        ages: dict[str, float] = {}
        for page in self._pages(prefix):
            headers = page.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            try:
                now = parsedate_to_datetime(headers["date"]).timestamp()
            except (KeyError, TypeError, ValueError):
                now = time.time()       # a server without a Date header: our clock
            for obj in page.get("Contents", ()):
                ages[obj["Key"][cut:]] = now - obj["LastModified"].timestamp()
        return ages

    clock_granularity = 1.0   # HTTP dates have whole seconds

    def remove(self, name: str) -> None:
        """On an immutable repository a locked object is retired: hidden at
        once, deleted by a later prune once its lock has expired."""
        if self.object_lock is not None:
            self.object_lock.remove(name)
            self._stored(name, None)
            return
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self._key(name))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _NOT_FOUND:
                return
            raise self._translate(exc, "remove", name) from None
        except (BotoCoreError, OSError) as exc:
            raise self._translate(exc, "remove", name) from None
        self._stored(name, None)

    # -- lock, usage ---------------------------------------------------------

    def lock(self, *, exclusive: bool, wait: bool, cancel: LockCancel | None = None,
             purpose: str | None = None,
             on_wait: Callable[[str], None] | None = None) -> LeaseLock | None:
        return acquire_lease(self, exclusive=exclusive, wait=wait,
                             lease_seconds=self.lease_seconds, cancel=cancel, purpose=purpose,
                             on_wait=on_wait)

    def usage(self) -> Usage:
        """Bytes stored under the prefix: one listing, cached for a minute and
        kept current by this back end's own writes (others' show that late);
        object storage has no capacity to report."""
        with self._usage_lock:
            cached = self._usage
        if cached is not None and time.monotonic() - cached[0] < _USAGE_TTL:
            return Usage(used=cached[1])
        used = sum(info.size for info in self.list(""))
        with self._usage_lock:
            self._usage = (time.monotonic(), used)
        return Usage(used=used)

    def close(self) -> None:
        for client in (self._client, self._probe):
            try:
                client.close()
            except (AttributeError, BotoCoreError, OSError):
                pass
