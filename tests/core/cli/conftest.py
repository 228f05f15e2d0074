"""The ``cli`` fixture: run ``agent-jobs`` in-process against a data directory of
the test's own (its first command starts the real server process, which the
fixture stops at the end)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.cli import main

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Cli]:
    data = tmp_path / "data"

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--data-dir", str(data), *args])
        out, err = capsys.readouterr()
        return code, out, err

    run.data = data  # type: ignore[attr-defined]
    yield run
    if data.exists():
        main(["--data-dir", str(data), "server", "stop", "--jobs", "immediately"])
        capsys.readouterr()
