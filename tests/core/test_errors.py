"""Every error that can cross the wire keeps its kind.

The server sends ``{"error", "kind"}`` with the class name; the client rebuilds it
by that name from :mod:`core.errors` (front ends load no server code), so each
operator-facing error class a front end can receive must be defined there.
"""
from __future__ import annotations

import importlib
import pkgutil

import httpx

import core
from core import errors
from core.api.client import _error_of

# Raised and handled inside one process; never an answer of the REST API.
PROCESS_LOCAL = {
    "DataDirBusy": "raised at server start, before there is a server to answer",
    "ServerUnavailable": "raised by the client itself when no server answers",
    "OperationCancelled": "a restore or verify's own cancellation, turned into its session's result",
    "VerifyCancelled": "the verify loop's cancellation, turned into OperationCancelled",
    "LockWaitCancelled": "a backup's wait for the repository lock, turned into a cancelled task",
    "MissingParentData": "the writer's signal to read an unchanged file again",
}


def _all_console_errors() -> set[type[errors.ConsoleError]]:
    for module in pkgutil.walk_packages(core.__path__, "core."):
        if ".agent_src" not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: set[type[errors.ConsoleError]] = set()
    todo = [errors.ConsoleError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def test_every_error_a_front_end_can_receive_is_defined_in_core_errors() -> None:
    strays = sorted(f"{cls.__module__}.{cls.__name__}" for cls in _all_console_errors()
                    if cls.__name__ not in PROCESS_LOCAL
                    and getattr(errors, cls.__name__, None) is not cls)
    assert strays == []


def test_the_client_rebuilds_each_kind_as_its_own_class() -> None:
    for name in ("WrongPassword", "DamagedKey", "S3AccessDenied", "RemoteError", "PointNotFound",
                 "PartialRestore", "JobNotRunning"):
        response = httpx.Response(409, json={"error": f"a {name}", "kind": name})
        error = _error_of(response)
        assert type(error) is getattr(errors, name) and str(error) == f"a {name}"
