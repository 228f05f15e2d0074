"""Issue 10, item 14: the command line refuses an empty data directory, stays
quiet when its reader leaves, and hides nothing odd in --help."""
from __future__ import annotations

import subprocess
import sys

from core.cli import main
from tests.conftest import make_tree
from tests.reliability.helpers import ENV, ROOT, agent_jobs, one_line_error


def test_empty_data_dir_is_refused(tmp_path):
    one_line_error(agent_jobs("", "job", "list"), "--data-dir needs a folder")


def test_help_hides_nothing_odd():
    out = subprocess.run([sys.executable, "-m", "core.cli", "--help"], capture_output=True,
                         text=True, env=ENV, cwd=ROOT).stdout
    assert "SUPPRESS" not in out and "_run" not in out and "repair" in out


def test_a_reader_leaving_early_is_not_an_error(tmp_path):
    data = tmp_path / "data"
    src = make_tree(tmp_path / "src")
    for i in range(80):   # more JSON than a pipe holds, so the writer meets the closed end
        assert main(["--data-dir", str(data), "job", "create", f"Job {i:02d}", "--computer",
                     f"pc1={src}", "--description", "d" * 1000]) == 0
    pipe = subprocess.run(f"{sys.executable} -m core.cli --data-dir {data} job list --json "
                          "| head -c 10", shell=True, capture_output=True, text=True, env=ENV,
                          cwd=ROOT)
    assert pipe.stderr == "" and len(pipe.stdout) == 10
