"""Issue 10, items 10 to 14 and the figures: every bad input is refused with a
one-line error, a non-zero exit, no traceback, and no data changed (the
catalogue's rows and every repository file are compared before and after).
The cases are listed in tests/RELIABILITY.md."""
from __future__ import annotations

import contextlib
import io
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from core.cli import main
from core.repository.fsio import atomic_write
from core.repository.manifest import encode_manifest
from core.repository.model import Entry, Manifest, PointMeta
from tests.conftest import make_tree
from tests.reliability.helpers import audit_results, data_state
from tests.support.server import kill_servers_under

BLOB = "ab" * 32


@dataclass
class World:
    root: Path
    data: Path
    src: Path
    point: str


def run(data: Path | str, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["--data-dir", str(data), *args])
        except SystemExit as exc:   # argparse
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def forge(world: World, name: str, entries: list[Entry]) -> None:
    """A forged manifest in the repository and its row in the catalogue."""
    meta = PointMeta(id=name, job="Base", computer="pc1", session_id="forged", type="Full",
                     created=datetime.now(timezone.utc), parent=None)
    repo = world.data / "repositories" / "default"
    atomic_write(repo / "points" / f"{name}.json.zst", encode_manifest(Manifest(meta, entries)),
                 repo / "tmp")
    conn = sqlite3.connect(world.data / "catalogue.sqlite", timeout=30)
    with conn:
        conn.execute("INSERT INTO points(id, job, computer, session_id, type, created, files, "
                     "size, repository) VALUES (?,?,?,?,?,?,?,?,?)",
                     (name, "Base", "pc1", "forged", "Full", meta.created.isoformat(), 1, 0,
                      "Default Backup Repository"))
    conn.close()


def E(path: str, kind: str = "file", mode: object = 0o644, mtime: object = 0, size: object = 0,
      blocks: tuple = (), target: str | None = None) -> Entry:
    return Entry(path, kind, mode, mtime, size, 0, 1, blocks, target)  # type: ignore[arg-type]


FORGED = {
    "huge-mode": [E("f", mode=0o7777777)],
    "negative-mode": [E("f", mode=-1)],
    "float-mode": [E("f", mode=1.5)],
    "huge-mtime": [E("f", mtime=10**30)],
    "negative-huge-mtime": [E("f", mtime=-(10**30))],
    "negative-size": [E("f", size=-1)],
    "huge-size": [E("f", size=2**70)],
    "dotdot": [E("../x")],
    "absolute": [E("/tmp/abk-forged-x")],
    "dot-component": [E("a/./b")],
    "nul": [E("a\x00b")],
    "unknown-kind": [E("f", kind="device")],
    "symlink-no-target": [E("l", kind="symlink")],
    "symlink-nul-target": [E("l", kind="symlink", target="a\x00b")],
    "hardlink-to-nothing": [E("h", kind="hardlink", target="nope")],
    "hardlink-to-dir": [E("d", kind="dir"), E("h", kind="hardlink", target="d")],
    "duplicate": [E("f"), E("f")],
    "bad-block-id": [E("f", size=1, blocks=("zz",))],
    "name-too-long": [E("x" * 300)],
    "file-under-file": [E("f"), E("f/g")],
    "dir-with-blocks": [E("d", kind="dir", blocks=(BLOB,))],
}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("bad-inputs")
    data, src = root / "data", make_tree(root / "src", files=2)
    (root / "a-file").write_text("x")
    (root / "full").mkdir()
    (root / "full" / "x").write_text("x")
    assert run(data, "job", "create", "Base", "--computer", f"pc1={src}")[0] == 0
    assert run(data, "job", "create", "Other", "--computer", f"pc2={src}")[0] == 0
    assert run(data, "start", "Base", "--wait")[0] == 0
    code, out, _ = run(data, "points", "Base", "--json")
    import json
    point = json.loads(out)[0]["id"]
    w = World(root, data, src, point)
    for name, entries in FORGED.items():
        forge(w, name, entries)
    yield w
    kill_servers_under(root)


def jc(*extra: str, name: str = "J") -> tuple:
    return ("job", "create", name, "--computer", "pc1={src}", *extra)


# (arguments, a word the one-line error must contain). "{src}", "{root}" and
# "{point}" are filled in from the world.
CASES: list[tuple[tuple, str]] = [
    # job names (item 11): control, invisible and bidi characters, length, separators
    (jc(name="ab\x7f"), "U+007F"), (jc(name="a\u0085b"), "U+0085"),
    (jc(name="a\u2028b"), "U+2028"), (jc(name="a\u2029b"), "U+2029"),
    (jc(name="a\u202eb"), "U+202E"), (jc(name="a\u200bb"), "U+200B"),
    (jc(name="a\ufeffb"), "U+FEFF"), (jc(name="a\u00a0b"), "U+00A0"),
    (jc(name="a\tb"), "invalid job name"), (jc(name="a\x1bb"), "invalid job name"),
    (jc(name="a\nb"), "invalid job name"), (jc(name="a" * 65), "invalid job name"),
    (jc(name=""), "invalid job name"), (jc(name="   "), "invalid job name"),
    (jc(name="a/b"), "invalid job name"), (jc(name="a\\b"), "invalid job name"),
    (jc(name="base"), "already exists"), (jc(name="BASE"), "already exists"),
    (("job", "set", "Other", "--name", "Base"), "already exists"),
    (("job", "set", "Base", "--name", "ba\u202es"), "U+202E"),
    # numbers (item 11)
    (jc("--throttle", "1e-300"), "--throttle"), (jc("--throttle", "0.001"), "--throttle"),
    (jc("--throttle", "-1"), "--throttle"), (jc("--throttle", "inf"), "--throttle"),
    (jc("--throttle", "-inf"), "--throttle"), (jc("--throttle", "nan"), "--throttle"),
    (jc("--throttle", "1e300"), "--throttle"), (jc("--throttle", "100001"), "--throttle"),
    (jc("--throttle", "fast"), "--throttle"),
    (jc("--tasks", "0"), "--tasks"), (jc("--tasks", "-1"), "--tasks"),
    (jc("--tasks", "65"), "--tasks"), (jc("--tasks", "1000000000000"), "--tasks"),
    (jc("--tasks", "two"), "--tasks"),
    (jc("--retain", "0"), "--retain"), (jc("--retain", "-5"), "--retain"),
    (jc("--retain", "1000"), "--retain"), (jc("--description", "x" * 1025), "--description"),
    # scope (item 10)
    (jc("--include", "../b"), "inside the computer's root"),
    (jc("--include", ".."), "inside the computer's root"),
    (jc("--include", "."), "inside the computer's root"),
    (jc("--include", ""), "inside the computer's root"),
    (jc("--include", "a/../b"), "inside the computer's root"),
    (jc("--include", "a//b"), "inside the computer's root"),
    (jc("--include", "/../etc"), "inside the computer's root"),
    (jc("--include", "a/./b"), "inside the computer's root"),
    (jc("--exclude", ""), "exclude mask"),
    # computers
    (("job", "create", "J", "--computer", "nopath"), "NAME=PATH"),
    (("job", "create", "J", "--computer", "=/x"), "NAME=PATH"),
    (("job", "create", "J", "--computer", "pc1="), "NAME=PATH"),
    (("job", "create", "J", "--computer", "bad name={src}"), "invalid computer name"),
    (("job", "create", "J", "--computer", "-pc={src}"), "expected one argument"),
    (("job", "create", "J", "--computer", "x" * 64 + "={src}"), "invalid computer name"),
    (("job", "create", "J", "--computer", "pc1=/no/such/dir"), "does not exist"),
    (("job", "create", "J", "--computer", "pc1={root}/a-file"), "not a directory"),
    (("job", "create", "J", "--computer", "pc1={src}", "--computer", "pc1={src}"),
     "only once"),
    (("job", "create", "J", "--computer", "pc1={src}/" + "a" * 5000), "--computer"),
    (("job", "create", "J", "--computer", "pc1={src}/" + "a" * 300), "cannot be used"),
    (("job", "create", "J"), "required"),
    # schedules
    (jc("--daily", "25:00"), "HH:MM"), (jc("--daily", "12:60"), "HH:MM"),
    (jc("--daily", "noon"), "HH:MM"), (jc("--daily", "1200"), "HH:MM"),
    (jc("--monthly", "0"), "between 1 and 31"), (jc("--monthly", "32"), "between 1 and 31"),
    (jc("--monthly", "x"), "--monthly"), (jc("--every", "0"), "minute"),
    (jc("--every", "-5"), "period"), (jc("--every", "x"), "period"),
    (jc("--every", "10d"), "period"), (jc("--every", "99999999999999999999"), "period"),
    (jc("--daily", "10:00", "--days", "funday"), "unknown day"),
    (jc("--daily", "10:00", "--window", "x"), "HH:MM-HH:MM"),
    (jc("--daily", "10:00", "--window", "25:00-01:00"), "HH:MM"),
    (jc("--daily", "10:00", "--retries", "-1"), "retries"),
    (jc("--daily", "10:00", "--retries", "101"), "retries"),
    (jc("--daily", "10:00", "--retry-wait", "x"), "period"),
    (jc("--days", "mon"), "Choose when the job runs"),
    (jc("--daily", "10:00", "--monthly", "3"), "not allowed with"),
    # names, ids and states that do not exist
    (("start", "Ghost"), "No job named 'Ghost'"), (("start", ""), "empty name"),
    (("stop", "Ghost", "--immediately"), "No job named"),
    (("stop", "Base", "--gracefully"), "not running"),
    (("stop", "Base", "--immediately"), "not running"),
    (("stop", "Base"), "required"),
    (("start", "Base", "--retry"), "Nothing to retry"),
    (("job", "delete", "Ghost"), "No job named"), (("job", "set", "Ghost", "--tasks", "2"),
                                                  "No job named"),
    (("job", "enable", "Ghost"), "No job named"), (("job", "disable", "Ghost"), "No job named"),
    (("points", "Ghost"), "No job named"), (("sessions", "Ghost"), "No job named"),
    (("verify", "ffff"), "No restore point"), (("verify", ""), "empty name"),
    (("restore", "ffff", "{root}/out"), "No restore point"),
    (("restore", "", "{root}/out"), "empty name"),
    (("restore", "%", "{root}/out"), "No restore point"),
    (("restore", "_", "{root}/out"), "No restore point"),
    (("restore", "{point}", "{data}/inside"), "inside the console's data directory"),
    (("restore", "{point}", "{root}/full"), "not an empty folder"),
    (("restore", "{point}", "{root}/a-file"), "not an empty folder"),
    (("restore", "{point}", "ssh://root@127.0.0.1/tmp/out"), "not a URL"),
    # the command line itself (item 14)
    (("bogus",), "invalid choice"), (("job",), "required"), (("start",), "required"),
    (("restore", "{point}"), "required"), (("server", "run", "--listen", "8.8.8.8:80"),
                                           "loopback"),
    (("server", "run", "--listen", "nonsense"), "must be an IP address and port"),
    (("server", "stop", "--jobs", "sometimes"), "invalid choice"),
    (("repair", "--everything"), "unrecognized arguments"),
] + [(("restore", name, "{root}/forged-out"), "damaged or forged") for name in FORGED]


def _fill(args: tuple, world: World) -> list[str]:
    return [a.format(src=world.src, root=world.root, point=world.point, data=world.data)
            if "{" in a and "}" in a and len(a) < 6000 else a for a in args]


@pytest.mark.parametrize("args, needle", CASES, ids=[f"{i:03d}" for i in range(len(CASES))])
def test_a_bad_input_is_one_line_and_changes_nothing(world: World, args, needle) -> None:
    before = data_state(world.data)
    recorded = len(audit_results(world.data))
    code, out, err = run(world.data, *_fill(args, world))
    err = err.strip()
    assert code != 0, (args, out, err)
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and "unexpected" not in err, err
    assert needle in err, err
    assert data_state(world.data) == before
    # the audit trail records the refusal, and nothing else
    assert all(r.startswith("refused: ") for r in audit_results(world.data)[recorded:])
    assert not (world.root / "forged-out").exists() or \
        not any((world.root / "forged-out").iterdir())
    assert not Path("/tmp/abk-forged-x").exists()


@pytest.mark.parametrize("data_dir, needle", [
    ("", "--data-dir needs a folder"),
    ("{root}/a-file", "is a file"),
    ("{root}/" + "d" * 5000, "File name too long"),
])
def test_a_bad_data_directory_is_one_line(world: World, data_dir, needle) -> None:
    code, _out, err = run(data_dir.format(root=world.root), "job", "list")
    err = err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert needle in err and "unexpected" not in err, err


def test_the_figures() -> None:
    """RELIABILITY.md promises at least 100 bad inputs."""
    assert len(CASES) + 3 >= 100
