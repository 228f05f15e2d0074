"""ssh:// computer paths: what is accepted, and the message for what is not."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.models import Computer, SshTarget


@pytest.mark.parametrize("url, target", [
    ("ssh://root@web1/srv", SshTarget("root", "web1", 22, "/srv")),
    ("ssh://backup@10.0.0.5:2222/srv/data/", SshTarget("backup", "10.0.0.5", 2222, "/srv/data")),
    ("ssh://root@web1:65535/", SshTarget("root", "web1", 65535, "/")),
])
def test_ssh_paths_are_parsed(url: str, target: SshTarget) -> None:
    computer = Computer(name="pc", path=url)
    assert computer.agent == "ssh" and computer.ssh_target == target


@pytest.mark.parametrize("port", ["0", "65536", "99999", "x", "-1"])
def test_a_bad_port_is_refused_in_one_clear_line(port: str) -> None:
    url = f"ssh://root@127.0.0.1:{port}/tmp"
    with pytest.raises(ValidationError) as err:
        Computer(name="pc", path=url)
    assert f"{url!r} is not a valid SSH address (bad port): write it as " \
           "ssh://USER@HOST[:PORT]/PATH" in str(err.value)
