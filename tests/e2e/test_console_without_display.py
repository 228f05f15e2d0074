"""``agent-console`` where there is no display: one plain line, not Qt's abort."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gui.display import missing_display

CONSOLE = Path(sys.executable).with_name("agent-console")   # the installed entry point


def test_the_console_says_plainly_that_no_display_was_found(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([str(CONSOLE), "--data-dir", str(tmp_path / "data")],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2, (result.returncode, result.stderr)
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert "no display found" in err and "works without one through 'agent-jobs'" in err
    assert "xcb" not in err and "reinstall" not in err and result.stdout == ""
    assert not (tmp_path / "data").exists()   # nothing was started or written


@pytest.mark.parametrize("env, missing", [
    ({}, True),
    ({"QT_QPA_PLATFORM": "xcb"}, True),
    ({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, True),
    ({"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}, True),
    ({"DISPLAY": ":0"}, False),
    ({"WAYLAND_DISPLAY": "wayland-0"}, False),
    ({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":1"}, False),
    ({"QT_QPA_PLATFORM": "offscreen"}, False),
    ({"QT_QPA_PLATFORM": "vnc:size=800x600"}, False),
])
def test_which_settings_count_as_a_display(env: dict[str, str], missing: bool) -> None:
    assert (missing_display(env, "linux") is not None) is missing
    assert missing_display(env, "darwin") is None
