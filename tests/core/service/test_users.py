"""The users desk with a real catalogue and real Argon2id: the login backoff on an
injected clock, tokens that are renewed while used and end when idle."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from core.errors import TooManyAttempts, Unauthorized
from core.models import Role
from core.service.facade import BackupService
from core.service.users import BACKOFF_MAX_S, TOKEN_IDLE_S


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def service(tmp_path: Path):
    svc = BackupService(tmp_path / "data")
    yield svc
    svc.close()


def test_the_backoff_doubles_per_failure_and_a_success_clears_it(service) -> None:
    clock = Clock()
    users = service.users
    users.clock = clock
    users.add_user("olga", Role.OPERATOR, SecretStr("right password"))
    waits = []
    for _ in range(8):
        with pytest.raises(Unauthorized):
            users.login("olga", "wrong password", None, "192.0.2.7")
        with pytest.raises(TooManyAttempts):
            users.login("olga", "right password", None, "192.0.2.7")
        waits.append(users.guard.wait_s(["user:olga"]))
        clock.now += waits[-1]
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0] and max(waits) == BACKOFF_MAX_S
    # another address is slowed for this user too
    with pytest.raises(Unauthorized):
        users.login("olga", "wrong password", None, "192.0.2.7")
    with pytest.raises(TooManyAttempts):
        users.login("olga", "right password", None, "198.51.100.1")
    # the address too, for any name, after its free failures
    with pytest.raises(TooManyAttempts):
        users.login("someone", "any password", None, "192.0.2.7")
    clock.now += BACKOFF_MAX_S
    assert users.login("olga", "right password", None, "192.0.2.7")
    assert users.guard.wait_s(["user:olga", "address:192.0.2.7"]) == 0.0


def test_a_token_is_renewed_while_used_and_ends_when_idle(service) -> None:
    clock = Clock()
    users = service.users
    users.clock = clock
    users.add_user("vera", Role.VIEWER, SecretStr("right password"))
    token = users.login("vera", "right password", None, "192.0.2.7")
    for _ in range(5):   # used every 10 minutes: lives on past the idle time
        clock.now += TOKEN_IDLE_S * 2 / 3
        principal = users.principal(token)
        assert principal is not None and principal.role is Role.VIEWER
    clock.now += TOKEN_IDLE_S + 1
    assert users.principal(token) is None
