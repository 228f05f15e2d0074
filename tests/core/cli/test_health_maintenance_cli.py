"""Issue 21, item 4, from the command line against a real server process:
``--health-check-weekly|--health-check-monthly|--no-health-check|
--health-check-mode`` on ``job create`` and ``job set`` (as the active-full
options are), ``agent-jobs maintenance set|show|clear``, and the REST route
with its documented error shape."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main as agent_jobs
from tests.conftest import make_tree


def definition(cli) -> dict:
    code, out, err = cli("job", "show", "Office", "--json")
    assert code == 0, err
    return json.loads(out)["definition"]


def test_health_check_options_and_the_maintenance_window(cli, tmp_path: Path) -> None:
    pc = make_tree(tmp_path / "pc")
    code, _out, err = cli("job", "create", "Office", "--computer", f"pc1={pc}",
                          "--health-check-weekly", "sat,sun", "--daily", "21:15")
    assert code == 0, err
    check = definition(cli)["health_check"]
    assert (check["kind"], check["days"], check["mode"]) == ("weekly", ["sat", "sun"], None)
    code, out, _err = cli("job", "show", "Office")
    assert "Health check: Weekly on Sat, Sun" in out

    code, _out, err = cli("job", "set", "Office", "--health-check-monthly", "last",
                          "--health-check-mode", "light")
    assert code == 0, err
    check = definition(cli)["health_check"]
    assert (check["kind"], check["last_day"], check["mode"]) == ("monthly", True, "light")
    code, _out, err = cli("job", "set", "Office", "--health-check-mode", "full")
    assert code == 0, err
    assert definition(cli)["health_check"]["mode"] == "full"
    assert definition(cli)["health_check"]["last_day"]          # the days stay
    code, _out, err = cli("job", "set", "Office", "--no-health-check")
    assert code == 0, err
    assert definition(cli)["health_check"] is None

    for args, needle in ((("--health-check-monthly", "32"), "--health-check-monthly"),
                         (("--health-check-mode", "light"), "--health-check-weekly"),
                         (("--health-check-weekly", "someday"), "day")):
        code, _out, err = cli("job", "set", "Office", *args)
        assert code == 1 and needle in err and "Traceback" not in err, err

    code, out, err = cli("maintenance", "show", "--json")
    assert code == 0 and json.loads(out) == {"window": None}, err
    code, out, err = cli("maintenance", "set", "--window", "01:00-05:00", "--days", "sat,sun")
    assert code == 0 and "Maintenance window 01:00\u201305:00" in out, err
    code, out, err = cli("maintenance", "show", "--json")
    window = json.loads(out)["window"]
    assert (window["start"], window["end"], window["days"]) == ("01:00", "05:00",
                                                                ["sat", "sun"])
    code, out, err = cli("maintenance", "set", "--window", "05:00-05:00")
    assert code == 1 and "--window" in err and "maintenance window" in err, err
    code, out, err = cli("maintenance", "set", "--window", "1-2-3")
    assert code == 1 and err.startswith("error: --window"), err

    # REST: the same settings, and a bad body in the documented error shape
    from core.api.client import ServerClient
    api = ServerClient(tmp_path / "data")
    try:
        assert api.get_maintenance().window is not None
        reply = api._http.request("PUT", "/maintenance",
                                  json={"window": {"start": "25:00", "end": "05:00"}})
        assert reply.status_code == 422
        body = reply.json()
        assert body["kind"] == "InvalidInput" and "window.start" in body["error"], body
    finally:
        api.close()
    code, out, err = cli("maintenance", "clear")
    assert code == 0, err
    assert json.loads(cli("maintenance", "show", "--json")[1]) == {"window": None}
