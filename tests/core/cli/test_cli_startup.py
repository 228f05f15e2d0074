"""A command loads what it uses (issue 24): `agent-jobs job list` against a
running server must not import the server, the engine, the catalogue, the
repository, another verb's module or httpx's own command line (rich, click).
Count-based, not timed: the time is in tests/benchmarks/ (bench_commands)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.core.cli.conftest import Cli

NOT_FOR_JOB_LIST = (
    "core.server.app", "core.service", "core.engine", "core.catalogue", "core.repository",
    "core.agents", "core.cli.audit", "core.cli.copyjobs", "core.cli.notifications",
    "core.cli.server", "fastapi", "uvicorn", "rich", "click", "pygments", "httpx._main",
)

PROBE = r"""
import json, sys
from core.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:   # --help
    code = exc.code
sys.stderr.write(chr(10) + "MODULES " + json.dumps(sorted(m for m in sys.modules if sys.modules[m])))
sys.exit(code)
"""


def loaded_by(data: Path, *args: str) -> tuple[int, str, set[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, "--data-dir", str(data), *args],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NO_COLOR": "1"},
                          cwd=Path(__file__).resolve().parents[3])
    err, found, modules = done.stderr.rpartition("\nMODULES ")
    assert found, done.stderr
    return done.returncode, done.stdout, set(json.loads(modules))


def test_job_list_loads_neither_the_server_nor_other_verbs(cli: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    assert cli("job", "create", "Nightly", "--computer", f"pc1={src}")[0] == 0
    code, out, modules = loaded_by(cli.data, "job", "list")   # type: ignore[attr-defined]
    assert code == 0 and "Nightly" in out
    loaded = sorted(m for m in modules
                    if any(m == bad or m.startswith(bad + ".") for bad in NOT_FOR_JOB_LIST))
    assert loaded == []


def test_usage_errors_and_help_load_no_http_client(tmp_path: Path) -> None:
    code, out, modules = loaded_by(tmp_path, "--help")
    assert code == 0 and "job" in out
    assert not {"httpx", "pydantic", "core.models"} & modules


def test_the_user_parser_names_every_role() -> None:
    from core.cli.users_parser import ROLE_NAMES
    from core.models import Role
    assert ROLE_NAMES == tuple(r.value for r in Role)
