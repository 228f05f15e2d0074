"""A fresh machine gets what CI tested, and no library's noise reaches users."""
from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_ssh_modules_prints_nothing_even_with_warnings_as_errors() -> None:
    # cryptography 51 deprecates DSA, which asyncssh imports on load: without
    # the filter in core.agents.ssh.sshlib this prints ten warning lines (and, as
    # errors, fails the import).
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c",
         "import core.agents.ssh.connect, core.agents.ssh.agent, core.agents.ssh.hostkeys, core.agents.ssh.channel"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_no_module_imports_asyncssh_except_through_the_filtered_shim() -> None:
    offenders = [
        str(path.relative_to(ROOT)) for path in (ROOT / "core").rglob("*.py")
        if path.name != "sshlib.py"
        and re.search(r"^\s*(import asyncssh|from asyncssh)", path.read_text(), re.M)
    ]
    assert offenders == []


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / ".ci" / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_canonical(name)] = version
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_installed_package_is_pinned_at_the_version_installed() -> None:
    pins = _pins()
    ours = _canonical("agent-backup-console")
    unpinned, differing = [], []
    for dist in metadata.distributions():
        name = _canonical(dist.metadata["Name"])
        if name in (ours, "setuptools", "wheel"):  # ourselves; the build tools
            continue
        if name not in pins:
            unpinned.append(name)
        elif pins[name] != dist.version:
            differing.append(f"{name} {dist.version} (pinned {pins[name]})")
    assert unpinned == [], "not in .ci/constraints.txt; refresh with `bash .ci/lock`"
    assert differing == [], "installed versions differ from the pins; run `bash .ci/setup`"


def test_setup_installs_from_the_constraints_file() -> None:
    setup = (ROOT / ".ci" / "setup").read_text()
    installs = [line for line in setup.splitlines() if "pip install" in line and not line.lstrip().startswith("#")]
    assert installs and all("-c .ci/constraints.txt" in line for line in installs)
