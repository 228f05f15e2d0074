"""Both agents carry the whole :class:`core.agents.base.Agent` protocol, so the engine never
asks which one it holds (checked statically by the type checker and here at run time)."""
from __future__ import annotations

import inspect

import pytest

from core.agents.base import Agent
from core.agents.local import LocalAgent
from core.agents.ssh.agent import SshAgent


def _static_conformance(local: LocalAgent, ssh: SshAgent) -> list[Agent]:
    return [local, ssh]


def _protocol_members() -> set[str]:
    names = {n for n in vars(Agent) if not n.startswith("_")}
    return names | set(Agent.__annotations__)


@pytest.mark.parametrize("agent", [LocalAgent, SshAgent], ids=lambda c: c.__name__)
def test_every_agent_member_the_engine_uses_exists(agent: type) -> None:
    init = inspect.getsource(getattr(agent, "__init__"))
    missing = sorted(n for n in _protocol_members()
                     if not hasattr(agent, n) and f"self.{n}" not in init)
    assert missing == []


def test_the_engine_never_probes_an_agent_by_name() -> None:
    import core.engine.reading as reading
    import core.engine.session as session
    import core.engine.task as task
    for module in (session, task, reading):
        source = inspect.getsource(module)
        assert "getattr(agent" not in source and "hasattr(agent" not in source, module.__name__
