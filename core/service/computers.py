"""The computers desk: reaching a protected computer before any backup.

It owns testing a computer as a backup would reach it (SSH: the host key, the
login, the path; within a time limit) and previewing how many files and bytes
a backup scope would read on each computer now.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from core.agents.select import agent_for
from core.api import ComputerPreview, ScopePreview
from core.errors import ConsoleError, InvalidInput
from core.models import Computer, FileScope, SshSettings
from core.service.context import ServiceContext, os_reason

T = TypeVar("T")
COMPUTER_TEST_TIMEOUT_S = 30.0


class Computers:
    """Testing computers and previewing what a backup of them would read."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def test_computer(self, computer: Computer, ssh: SshSettings) -> str:
        """Connect to the computer as a backup would (SSH: the host key, the
        login, the path) and say so in a sentence; raises what is wrong."""
        cancel = threading.Event()

        def check() -> str:
            agent = agent_for(computer, ssh, data_dir=self._ctx.data_dir, cancel=cancel)
            try:
                return agent.check()
            finally:
                agent.close()

        try:
            return run_with_timeout(check, COMPUTER_TEST_TIMEOUT_S,
                                    f"Computer '{computer.name}' did not answer within "
                                    f"{COMPUTER_TEST_TIMEOUT_S:g} s: check its address and "
                                    "that it is reachable from the server.")
        finally:
            cancel.set()   # a check still waiting gives up

    def preview_scope(self, computers: list[Computer], scope: FileScope,
                      ssh: SshSettings | None = None) -> ScopePreview:
        """How many files, and how many bytes, a backup of ``scope`` would read
        on each computer now; a computer its agent cannot read gets an error."""
        found: list[ComputerPreview] = []
        for computer in computers:
            agent = None
            try:
                agent = agent_for(computer, ssh or SshSettings(), data_dir=self._ctx.data_dir)
                scan = agent.scan(scope)
            except ConsoleError as exc:
                found.append(ComputerPreview(computer=computer.name, error=str(exc)))
                continue
            except OSError as exc:
                found.append(ComputerPreview(
                    computer=computer.name,
                    error=f"Computer '{computer.name}': cannot read {computer.path}: "
                          f"{exc.strerror or exc}."))
                continue
            finally:
                if agent is not None:
                    agent.close()
            found.append(ComputerPreview(computer=computer.name, files=scan.files,
                                         bytes=scan.bytes, warnings=scan.warnings[:20]))
        return ScopePreview(computers=found)


def run_with_timeout(work: Callable[[], T], timeout: float, late: str) -> T:
    """``work()`` on its own thread; ConsoleError(``late``) after ``timeout``
    (the thread is left to finish on its own)."""
    values: list[T] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def target() -> None:
        try:
            values.append(work())
        except BaseException as exc:   # handed to the caller's thread
            errors.append(exc)
        finally:
            done.set()

    threading.Thread(target=target, name="timed-check", daemon=True).start()
    if not done.wait(timeout):
        raise ConsoleError(late)
    if errors:
        error = errors[0]
        if isinstance(error, OSError) and not isinstance(error, ConsoleError):
            raise InvalidInput(os_reason(error)) from None
        raise error
    return values[0]
