"""The three implementations of :class:`core.api.BackupApi` keep its shape.

Two checks of one fact: ``_static_conformance`` is read by the type checker in
``.ci/run`` (restic's ``var _ Backend = &RetryBackend{}``: an assignment that
only type-checks when the class fulfils the protocol), and the test below
compares the signatures at run time, so a drift fails the suite too.
"""
from __future__ import annotations

import inspect

import pytest

from core.api import BackupApi
from core.api.client import ServerClient
from core.service.facade import BackupService
from core.service.offline import ReadOnlyService

IMPLEMENTATIONS = [BackupService, ServerClient, ReadOnlyService]


def _static_conformance(service: BackupService, client: ServerClient,
                        offline: ReadOnlyService) -> list[BackupApi]:
    return [service, client, offline]


def _members() -> dict[str, inspect.Signature | None]:
    members: dict[str, inspect.Signature | None] = {}
    for name, value in vars(BackupApi).items():
        if not name.startswith("_") and callable(value):
            members[name] = inspect.signature(value)
    for name in BackupApi.__annotations__:
        members.setdefault(name, None)   # attributes: data_dir, address
    return members


def _parameters(sig: inspect.Signature) -> list[tuple[str, object, bool]]:
    return [(p.name, p.kind, p.default is inspect.Parameter.empty) for p in sig.parameters.values()]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda c: c.__name__)
def test_every_protocol_member_exists_with_the_protocols_parameters(implementation: type) -> None:
    drift = []
    for name, sig in _members().items():
        if sig is None:
            # a class attribute, or one its constructor sets
            init = inspect.getsource(getattr(implementation, "__init__"))
            ok = hasattr(implementation, name) or f"self.{name} = " in init
            if not ok:
                drift.append(f"{name}: missing attribute")
            continue
        member = getattr(implementation, name, None)
        if member is None and "__getattr__" in vars(implementation):
            continue   # the read-only service refuses every write it does not define, by name
        if member is None:
            drift.append(f"{name}: missing")
        elif _parameters(inspect.signature(member)) != _parameters(sig):
            drift.append(f"{name}{inspect.signature(member)} != protocol {name}{sig}")
    assert drift == []
