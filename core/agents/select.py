"""Which agent reads a computer."""
from __future__ import annotations

import threading
from pathlib import Path

from core.agents.base import Agent
from core.agents.local import LocalAgent
from core.errors import InvalidInput
from core.models import Computer, SshSettings


def agent_for(computer: Computer, ssh: SshSettings = SshSettings(), *,
              data_dir: Path | None = None, cancel: threading.Event | None = None) -> Agent:
    """The agent that reads ``computer``. An SSH computer's agent connects on
    first use (``check``, ``scan``); ``ssh`` says how, and its known_hosts
    file defaults to ``data_dir``/known_hosts. ``cancel`` makes its waits
    end with Cancelled once set. Call ``close()`` when done."""
    if computer.agent == "local":
        return LocalAgent(computer)
    if computer.agent == "ssh":
        from core.agents.ssh.agent import SshAgent

        return SshAgent(computer, ssh, data_dir=data_dir, cancel=cancel)
    raise InvalidInput(f"Computer '{computer.name}': unknown agent type '{computer.agent}'.")
