"""Named users (issue 23): their roles, Argon2id password hashes, the optional
TOTP second factor, logging in, and the short-lived bearer tokens a login gives.

A token is renewed while it is used (``TOKEN_IDLE_S`` after its last use) and
never outlives ``TOKEN_MAX_S``; only its SHA-256 is kept, in memory: a server
restart logs everyone out (clients log in again with what they were given). A
request's user is read again from the catalogue on every request, so a role
change, a disabled or removed user takes effect at once.

Failed logins are slowed per user name and per address: after the n-th failure
in a row, the next attempt for that name is refused with :class:`TooManyAttempts`
for ``BACKOFF_BASE_S * 2**(n-1)`` seconds (at most ``BACKOFF_MAX_S``); from an
address, the same once it has failed more than ``ADDRESS_FREE_FAILURES`` times
in a row (whatever the names). Every attempt is in the audit trail (``login``).
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import SecretStr

from core.catalogue import Catalogue, UserRecord
from core.errors import (
    AlreadyExists, CodeRequired, Forbidden, InvalidInput, NotFound, TooManyAttempts,
    Unauthorized,
)
from core.models import (
    PERMISSION_TEXT, ROLE_PERMISSIONS, Me, Permission, Role, TotpSetup, UserChange, UserInfo,
)
from core.service.audit import AuditTrail, identify

TOKEN_IDLE_S = 15 * 60.0
TOKEN_MAX_S = 12 * 3600.0
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 60.0
# An address (a NAT, an office) is slowed only after this many failures in a row,
# so one user's typo does not hold back the others behind it; a user name at once.
ADDRESS_FREE_FAILURES = 4
MIN_PASSWORD = 8
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
RESERVED = {"local", "scheduler", "user"}   # how the audit trail names the server's own
TOTP_ISSUER = "Agent Backup Console"


@dataclass(frozen=True)
class Principal:
    """Who a request runs as."""

    user: str
    role: Role
    restore_to: tuple[str, ...] = ()

    def allows(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.allows(permission):
            raise Forbidden(f"Your role ({self.role.label}) does not allow you to "
                            f"{PERMISSION_TEXT[permission]}; ask an administrator.")

    def me(self) -> Me:
        return Me(user=self.user, role=self.role,
                  permissions=sorted(ROLE_PERMISSIONS[self.role], key=lambda p: p.value),
                  restore_to=list(self.restore_to))


# The server's own Unix user (the local socket) and holders of DATA_DIR/server.token.
LOCAL_ADMIN = Principal("local", Role.ADMINISTRATOR)


@dataclass
class _Token:
    user: str
    issued: float
    last_used: float


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0


@dataclass
class LoginGuard:
    """The failed-login backoff, per key ("user:NAME", "address:HOST")."""

    clock: Callable[[], float]
    failures: dict[str, _Failures] = field(default_factory=dict)

    def wait_s(self, keys: list[str]) -> float:
        now = self.clock()
        waits = [0.0]
        for key in keys:
            entry = self.failures.get(key)
            if entry is None:
                continue
            count = entry.count - (ADDRESS_FREE_FAILURES if key.startswith("address:") else 0)
            if count > 0:
                waits.append(entry.last + min(BACKOFF_BASE_S * 2 ** (count - 1),
                                              BACKOFF_MAX_S) - now)
        return float(max(waits))

    def failed(self, keys: list[str]) -> None:
        now = self.clock()
        for key in keys:
            entry = self.failures.setdefault(key, _Failures())
            entry.count += 1
            entry.last = now

    def succeeded(self, keys: list[str]) -> None:
        for key in keys:
            self.failures.pop(key, None)


def _folder(text: str) -> str:
    if not text.startswith("/"):
        raise InvalidInput(f"--restore-to {text[:200]!r} is not an absolute path: give the "
                           "folder as a full path starting with '/'.")
    return os.path.normpath(text)


def user_info(record: UserRecord) -> UserInfo:
    created = datetime.fromisoformat(record.created) if record.created else None
    return UserInfo(name=record.name, role=Role(record.role), enabled=record.enabled,
                    totp=record.totp_secret is not None, restore_to=record.restore_to,
                    created=created)


def inside(target: str, folders: tuple[str, ...] | list[str]) -> bool:
    """Whether ``target`` is one of ``folders`` or under one (paths normalised, and
    symbolic links resolved as far as they exist: no escaping through a link)."""
    real = os.path.realpath(os.path.normpath(target))
    for folder in folders:
        base = os.path.realpath(folder)
        if real == base or PurePosixPath(real).is_relative_to(base):
            return True
    return False


class Users:
    def __init__(self, catalogue: Catalogue, audit: AuditTrail,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._catalogue = catalogue
        self._audit = audit
        self.clock = clock
        self._hasher = PasswordHasher()   # Argon2id, the library's (RFC 9106) defaults
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()
        self.guard = LoginGuard(lambda: self.clock())
        # told when a user's tokens end (disabled, removed, new password): the server's
        # event streams check theirs at once rather than at the next keep-alive
        self.tokens_dropped: Callable[[], None] | None = None

    # -- managing users --------------------------------------------------------------
    def list_users(self) -> list[UserInfo]:
        return [user_info(r) for r in self._catalogue.list_user_records()]

    def _record(self, name: str) -> UserRecord:
        record = self._catalogue.get_user_record(name)
        if record is None:
            raise NotFound(f"No user named '{name}'. Run 'agent-jobs user list' to see the "
                           "users.")
        return record

    def _password_hash(self, password: SecretStr) -> str:
        text = password.get_secret_value()
        if len(text) < MIN_PASSWORD:
            raise InvalidInput(f"The password is too short ({len(text)} characters): give at "
                               f"least {MIN_PASSWORD}.")
        return self._hasher.hash(text)

    def add_user(self, name: str, role: Role, password: SecretStr,
                 restore_to: list[str] | None = None) -> UserInfo:
        with self._audit.action("user.add", name, role=role.value,
                                restore_to=restore_to or None):
            if not NAME_RE.match(name) or name.lower() in RESERVED:
                raise InvalidInput(f"{name[:100]!r} cannot be a user name: use 1 to 64 "
                                   "letters, digits, '.', '_', '@' or '-' (not "
                                   f"{', '.join(sorted(RESERVED))}).")
            if self._catalogue.get_user_record(name) is not None:
                raise AlreadyExists(f"A user named '{name}' exists already: change it with "
                                    "'agent-jobs user set'.")
            record = UserRecord(name, role.value, self._password_hash(password),
                                restore_to=[_folder(f) for f in restore_to or []])
            self._catalogue.insert_user(record)
            return user_info(self._record(name))

    def _keeps_an_administrator(self, leaving: str) -> None:
        others = [r for r in self._catalogue.list_user_records()
                  if r.name != leaving and r.enabled and r.role == Role.ADMINISTRATOR.value]
        if not others:
            raise InvalidInput(f"'{leaving}' is the last enabled administrator: make another "
                               "user an administrator first.")

    def change_user(self, name: str, change: UserChange) -> UserInfo:
        details = change.model_dump(mode="json", exclude_none=True, exclude={"password"})
        if change.password is not None:
            details["password"] = "changed"
        with self._audit.action("user.set", name, **details) as found:
            record = self._record(name)
            found["before"] = {"role": record.role, "enabled": record.enabled,
                               "restore_to": record.restore_to}
            was_admin = record.enabled and record.role == Role.ADMINISTRATOR.value
            if change.role is not None:
                record.role = change.role.value
            if change.enabled is not None:
                record.enabled = change.enabled
            if change.restore_to is not None:
                record.restore_to = [_folder(f) for f in change.restore_to]
            if change.password is not None:
                record.password_hash = self._password_hash(change.password)
            if was_admin and not (record.enabled and record.role == Role.ADMINISTRATOR.value):
                self._keeps_an_administrator(name)
            self._catalogue.save_user(record)
            if not record.enabled or change.password is not None:
                self._drop_tokens(name)
            return user_info(record)

    def remove_user(self, name: str) -> None:
        with self._audit.action("user.remove", name):
            record = self._record(name)
            if record.enabled and record.role == Role.ADMINISTRATOR.value:
                self._keeps_an_administrator(name)
            self._catalogue.delete_user(name)
            self._drop_tokens(name)

    def set_user_totp(self, name: str, enabled: bool) -> TotpSetup | None:
        with self._audit.action("user.totp", name, enabled=enabled):
            record = self._record(name)
            if not enabled:
                record.totp_secret = None
                self._catalogue.save_user(record)
                return None
            secret = pyotp.random_base32()
            record.totp_secret = secret
            self._catalogue.save_user(record)
            uri = pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=TOTP_ISSUER)
            return TotpSetup(secret=secret, uri=uri)

    def _drop_tokens(self, name: str) -> None:
        with self._lock:
            for key in [k for k, t in self._tokens.items() if t.user == name]:
                del self._tokens[key]
        if self.tokens_dropped is not None:
            self.tokens_dropped()

    # -- logging in --------------------------------------------------------------------
    def login(self, name: str, password: str, code: str | None, origin: str) -> str:
        """A new bearer token; refuses with Unauthorized, CodeRequired or TooManyAttempts."""
        keys = [f"user:{name}", f"address:{origin}"]
        identify(name)
        wait = self.guard.wait_s(keys)
        if wait > 0:
            self._audit.record("login", name, result="refused: too many failed logins")
            raise TooManyAttempts(f"Too many failed logins for '{name}' or from {origin}: "
                                  f"try again in {max(1, round(wait))} s.")
        record = self._catalogue.get_user_record(name)
        try:
            self._hasher.verify(record.password_hash if record else self._dummy_hash,
                                password)
            ok = record is not None and record.enabled
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or record is None:
            self.guard.failed(keys)
            why = "disabled" if record is not None and not record.enabled else \
                "wrong user name or password"
            self._audit.record("login", name, result=f"failed: {why}")
            raise Unauthorized("Wrong user name or password (or the user is disabled).")
        if record.totp_secret is not None:
            if not code:
                raise CodeRequired(f"'{name}' logs in with a second factor: give the 6-digit "
                                   "code of the authenticator app.")
            if not pyotp.TOTP(record.totp_secret).verify(code.strip(), valid_window=1):
                self.guard.failed(keys)
                self._audit.record("login", name, result="failed: wrong code")
                raise Unauthorized("Wrong authenticator code: give the current 6-digit code.")
        self.guard.succeeded(keys)
        if self._hasher.check_needs_rehash(record.password_hash):
            record.password_hash = self._hasher.hash(password)
            self._catalogue.save_user(record)
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            self._expire(now)
            self._tokens[_digest(token)] = _Token(name, now, now)
        self._audit.record("login", name, totp=True if record.totp_secret else None)
        return token

    def principal(self, token: str) -> Principal | None:
        """The user a token was given to, renewed; None if unknown, expired, or the
        user is gone or disabled."""
        now = self.clock()
        key = _digest(token)
        with self._lock:
            entry = self._tokens.get(key)
            if entry is None:
                return None
            if now - entry.last_used > TOKEN_IDLE_S or now - entry.issued > TOKEN_MAX_S:
                del self._tokens[key]
                return None
            entry.last_used = now
        record = self._catalogue.get_user_record(entry.user)
        if record is None or not record.enabled:
            return None
        return Principal(record.name, Role(record.role), tuple(record.restore_to))

    def _expire(self, now: float) -> None:
        for key in [k for k, t in self._tokens.items()
                    if now - t.last_used > TOKEN_IDLE_S or now - t.issued > TOKEN_MAX_S]:
            del self._tokens[key]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
