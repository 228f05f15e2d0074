"""What the console's job wizard needs from the server, and the CLI's
parity with it: the scope preview (service and REST), the periodic active
full (model and scheduled runs), and ``job create|set|show``."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from core.api import describe_settings
from core.cli import main as agent_jobs
from core.models import (
    ActiveFullKind, ActiveFullSchedule, Computer, FileScope, JobDefinition, SessionResult,
)
from core.scheduling import Schedule, ScheduleKind, Weekday
from core.api.client import ServerClient
from core.service.facade import BackupService
from tests.conftest import make_tree
from tests.support.server import start_server, stop_server

SATURDAY = date(2026, 11, 28)


def _computers(tmp_path: Path) -> list[Computer]:
    one = make_tree(tmp_path / "one", files=3, size=1000)
    (one / "skip.tmp").write_bytes(b"x" * 500)
    (one / "docs").mkdir()
    (one / "docs" / "a.txt").write_bytes(b"y" * 200)
    return [Computer(name="one", path=str(one)),
            Computer(name="gone", path=str(tmp_path / "missing"))]


# -- scope preview -------------------------------------------------------------------
def test_preview_scope_counts_what_a_backup_would_read(service: BackupService,
                                                       tmp_path: Path) -> None:
    computers = _computers(tmp_path)
    whole = service.preview_scope(computers, FileScope())
    one, gone = whole.computers
    assert (one.computer, one.files, one.bytes, one.error) == ("one", 5, 3700, None)
    assert gone.computer == "gone" and gone.files == 0
    assert gone.error is not None and "does not exist" in gone.error
    assert (whole.files, whole.bytes) == (5, 3700)

    masked = service.preview_scope(computers[:1], FileScope(exclude=("*.tmp",)))
    assert (masked.files, masked.bytes) == (4, 3200)
    folders = service.preview_scope(computers[:1], FileScope(include=("docs", "nowhere")))
    assert (folders.files, folders.bytes) == (1, 200)
    assert any("nowhere" in w for w in folders.computers[0].warnings)


def test_preview_scope_over_rest(tmp_path: Path) -> None:
    runtime = start_server(tmp_path / "data")
    client = ServerClient(runtime.data_dir, autostart=False)
    try:
        preview = client.preview_scope(_computers(tmp_path), FileScope(exclude=("docs",)))
        assert [(c.computer, c.files, c.bytes) for c in preview.computers] == \
            [("one", 4, 3500), ("gone", 0, 0)]
        assert preview.computers[1].error is not None
    finally:
        client.close()
        stop_server(runtime)


# -- periodic active full -------------------------------------------------------------
def test_active_full_days() -> None:
    assert SATURDAY.weekday() == 5
    weekly = ActiveFullSchedule(days="sat,sun")
    assert weekly.kind is ActiveFullKind.WEEKLY and weekly.days == (Weekday.SAT, Weekday.SUN)
    assert weekly.applies(SATURDAY) and not weekly.applies(SATURDAY - timedelta(days=1))
    assert weekly.describe() == "Weekly on Sat, Sun"
    day31 = ActiveFullSchedule(kind=ActiveFullKind.MONTHLY, day_of_month=31)
    assert day31.applies(date(2026, 11, 30)) and not day31.applies(date(2026, 11, 29))
    last = ActiveFullSchedule(kind=ActiveFullKind.MONTHLY, last_day=True)
    assert last.applies(date(2027, 2, 28)) and last.describe() == "Monthly on the last day"
    with pytest.raises(ValueError, match="at least one day"):
        ActiveFullSchedule(days=())
    # Jobs saved before the setting existed read back without it.
    old = JobDefinition.model_validate({"name": "Old", "computers": [{"name": "a",
                                                                      "path": "/a"}]})
    assert old.active_full is None
    assert ("Active full", "Off") in describe_settings(old)


def test_the_first_scheduled_run_on_an_active_full_day_is_full(
        service: BackupService, tmp_path: Path) -> None:
    svc = service
    today = list(Weekday)[datetime.now().astimezone().weekday()]   # the server's local day
    tomorrow = list(Weekday)[(today.number + 1) % 7]
    computers = (Computer(name="f1", path=str(make_tree(tmp_path / "f1"))),)
    schedule = Schedule(kind=ScheduleKind.PERIODICALLY, every_minutes=60)
    svc.create_job(JobDefinition(name="Fulls", computers=computers, schedule=schedule,
                                 active_full=ActiveFullSchedule(days=(today,))))
    svc.create_job(JobDefinition(name="Plain", computers=computers, schedule=schedule,
                                 active_full=ActiveFullSchedule(days=(tomorrow,))))

    first = svc.wait_session(svc.start_scheduled("Fulls", retry=False), timeout=10)
    assert first.full and first.result is SessionResult.SUCCESS
    second = svc.wait_session(svc.start_scheduled("Fulls", retry=False), timeout=10)
    assert not second.full   # one active full a day
    manual = svc.wait_session(svc.start_job("Fulls"), timeout=10)
    assert not manual.full
    other = svc.wait_session(svc.start_scheduled("Plain", retry=False), timeout=10)
    assert not other.full   # not its day


# -- the CLI can set whatever the wizard can ---------------------------------------------
@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    data = tmp_path / "data"

    def run(*args: str) -> tuple[int, str, str]:
        code = agent_jobs(["--data-dir", str(data), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_job_create_set_show_cover_every_wizard_setting(cli, tmp_path: Path) -> None:
    pc = make_tree(tmp_path / "pc")
    code, _out, err = cli("job", "create", "Office", "--computer", f"pc1={pc}",
                          "--computer", f"pc2={pc}", "--description", "desk",
                          "--repository", "default", "--retain", "4", "--tasks", "3",
                          "--throttle", "2.5", "--include", "docs", "--exclude", "*.tmp",
                          "--active-full-weekly", "sat,sun", "--daily", "21:15",
                          "--days", "weekdays", "--retries", "2", "--retry-wait", "5",
                          "--window", "20:00-06:00", "--window-days", "mon-fri")
    assert code == 0, err
    code, out, err = cli("job", "show", "Office", "--json")
    assert code == 0, err
    shown = json.loads(out)
    d = shown["definition"]
    assert [c["name"] for c in d["computers"]] == ["pc1", "pc2"]
    assert (d["description"], d["repository"], d["retain_points"], d["task_slots"],
            d["throttle_mbps"]) == ("desk", "Default Backup Repository", 4, 3, 2.5)
    assert d["scope"] == {"include": ["docs"], "exclude": ["*.tmp"]}
    assert d["active_full"]["kind"] == "weekly" and d["active_full"]["days"] == ["sat", "sun"]
    assert d["schedule"]["at"] == "21:15" and d["schedule"]["retries"] == 2
    assert d["schedule"]["window"]["start"] == "20:00"
    assert shown["status"] == "Idle" and shown["next_run"] is not None

    code, out, err = cli("job", "show", "Office")
    assert code == 0, err
    assert "Active full:  Weekly on Sat, Sun" in out
    assert "Backup mode:  Selected folders: docs" in out
    assert "Schedule:     Daily at 21:15 on weekdays" in out

    code, _out, err = cli("job", "set", "Office", "--entire-computer", "--no-exclude",
                          "--active-full-monthly", "last", "--throttle", "0")
    assert code == 0, err
    d = json.loads(cli("job", "show", "Office", "--json")[1])["definition"]
    assert d["scope"] == {"include": [], "exclude": []} and d["throttle_mbps"] is None
    assert d["active_full"]["kind"] == "monthly" and d["active_full"]["last_day"]
    assert d["schedule"]["at"] == "21:15"   # untouched settings stay

    code, _out, err = cli("job", "set", "Office", "--no-active-full")
    assert code == 0, err
    assert json.loads(cli("job", "show", "Office", "--json")[1])["definition"][
        "active_full"] is None
    code, _out, err = cli("job", "set", "Office", "--active-full-monthly", "32")
    assert code == 1 and "--active-full-monthly" in err
    code, _out, err = cli("job", "show", "Nope")
    assert code == 1 and "Nope" in err
    cli("server", "stop")
