"""The audit trail through the CLI and the real server process: who did what,
with before and after for changes, and a hash chain that finds a changed row."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from core.paths import catalogue_path
from tests.conftest import make_tree
from tests.core.cli.conftest import Cli


def _audit(cli: Cli, *args: str) -> list[dict]:
    code, out, err = cli("audit", "--json", *args)
    assert code == 0, err
    return json.loads(out)


def test_changes_and_actions_are_recorded_with_who_when_and_what(cli: Cli, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "pc", files=3)
    assert cli("job", "create", "Nightly", "--computer", f"pc1={src}", "--retain", "3")[0] == 0
    assert cli("job", "set", "Nightly", "--retain", "5")[0] == 0
    assert cli("start", "Nightly", "--wait")[0] == 0
    code, out, _ = cli("points", "Nightly", "--json")
    point = json.loads(out)[0]["id"]
    assert cli("restore", point, str(tmp_path / "restored"), "--path", "file_001.dat")[0] == 0
    assert cli("verify", point)[0] == 0
    code, _, err = cli("stop", "Nightly", "--gracefully")   # not running: refused, and recorded
    assert code == 1
    assert cli("job", "disable", "Nightly")[0] == 0

    rows = _audit(cli)
    actions = [(r["action"], r["target"], r["result"].split(":")[0]) for r in reversed(rows)]
    assert actions == [
        ("job.create", "Nightly", "done"), ("job.edit", "Nightly", "done"),
        ("session.start", "Nightly", "done"), ("restore", point, "done"),
        ("verify", point, "done"), ("session.stop", "Nightly", "refused"),
        ("job.disable", "Nightly", "done")]
    assert {(r["user"], r["origin"]) for r in rows} == {("local", "local socket")}
    edit = next(r for r in rows if r["action"] == "job.edit")
    assert edit["details"]["before"]["retain_points"] == 3
    assert edit["details"]["after"]["retain_points"] == 5
    restore = next(r for r in rows if r["action"] == "restore")
    assert restore["details"]["paths"] == ["file_001.dat"]
    assert restore["details"]["into"] == str(tmp_path / "restored")
    stop = next(r for r in rows if r["action"] == "session.stop")
    assert stop["details"]["mode"] == "gracefully" and "not running" in stop["result"]
    start = next(r for r in rows if r["action"] == "session.start")
    assert start["details"]["session"]

    code, out, _ = cli("audit")
    assert code == 0 and "job.edit" in out and "changed: retain_points" in out
    assert [r["action"] for r in _audit(cli, "--user", "nobody")] == []
    assert len(_audit(cli, "--since", "1h")) == len(rows)
    code, _, err = cli("audit", "--since", "last tuesday")
    assert code == 1 and "--since" in err and "7d" in err


def test_verify_finds_a_changed_row_and_rows_cut_off_the_end(cli: Cli, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "pc", files=1)
    assert cli("job", "create", "J", "--computer", f"pc1={src}")[0] == 0
    for enabled in ("disable", "enable", "disable"):
        assert cli("job", enabled, "J")[0] == 0
    code, out, _ = cli("audit", "verify")
    assert code == 0 and "intact: 4 rows" in out

    db = sqlite3.connect(catalogue_path(cli.data))  # type: ignore[attr-defined]
    try:   # the server itself cannot rewrite history
        db.execute("UPDATE audit SET user='mallory' WHERE id=2")
        raise AssertionError("the audit table took an UPDATE")
    except sqlite3.DatabaseError as refused:
        assert "append-only" in str(refused)
    db.execute("DROP TRIGGER audit_no_update")    # someone with the file in hand
    db.execute("UPDATE audit SET user='mallory' WHERE id=2")
    db.commit()
    code, out, _ = cli("audit", "verify")
    assert code == 1 and "row 2" in out and "changed after it was written" in out
    code, out, _ = cli("audit", "verify", "--json")
    assert json.loads(out)["first_bad_id"] == 2 and not json.loads(out)["intact"]

    db.execute("UPDATE audit SET user='local' WHERE id=2")   # put it back...
    db.execute("DROP TRIGGER audit_no_delete")
    db.execute("DELETE FROM audit WHERE id >= 3")            # ...and cut the end off
    db.commit()
    db.close()
    code, out, _ = cli("audit", "verify")
    assert code == 1 and "cut off its end" in out
