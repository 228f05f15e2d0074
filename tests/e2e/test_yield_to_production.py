"""Yield to production through a real server process: the CLI's create/set flags and
``job show``, and REST's job definition (create, read back, change, refuse a bad threshold)."""
from __future__ import annotations

from pathlib import Path

from tests.e2e.test_server_process import Server, agent_jobs, as_json, server  # noqa: F401


def test_cli_create_set_show(server: Server, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "src").mkdir()
    data = server.data
    made = agent_jobs(data, "job", "create", "Busy", "--computer", f"b1={tmp_path / 'src'}",
                      "--yield-to-production", "--pressure-threshold", "35")
    assert made.returncode == 0, made.stderr
    d = as_json(data, "job", "show", "Busy")["definition"]
    assert (d["yield_to_production"], d["pressure_threshold"]) == (True, 35)
    shown = agent_jobs(data, "job", "show", "Busy").stdout
    assert "Production:" in shown and "Yield to production: each computer" in shown
    assert "pressure is above 35 %" in shown
    assert agent_jobs(data, "job", "set", "Busy", "--pressure-threshold", "50").returncode == 0
    d = as_json(data, "job", "show", "Busy")["definition"]
    assert (d["yield_to_production"], d["pressure_threshold"]) == (True, 50)
    assert agent_jobs(data, "job", "set", "Busy", "--no-yield-to-production").returncode == 0
    d = as_json(data, "job", "show", "Busy")["definition"]
    assert (d["yield_to_production"], d["pressure_threshold"]) == (False, 50)
    assert "Do not yield: read at full speed" in agent_jobs(data, "job", "show", "Busy").stdout
    bad = agent_jobs(data, "job", "set", "Busy", "--pressure-threshold", "150")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "write a percent from 1 to 100" in bad.stderr
    both = agent_jobs(data, "job", "set", "Busy", "--yield-to-production",
                      "--no-yield-to-production")
    assert both.returncode != 0 and "not allowed with" in both.stderr


def test_rest_job_definition(server: Server, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "src").mkdir()
    body = {"name": "Rest", "computers": [{"name": "r1", "path": str(tmp_path / "src")}],
            "yield_to_production": True, "pressure_threshold": 42}
    assert server.rest("POST", "/jobs", json=body).status_code in (200, 201)
    d = server.rest("GET", "/jobs/Rest").json()["definition"]
    assert (d["yield_to_production"], d["pressure_threshold"]) == (True, 42)
    d["pressure_threshold"] = 0
    refused = server.rest("PUT", "/jobs/Rest", json=d)
    assert refused.status_code == 422 and "pressure_threshold" in refused.text
    d["pressure_threshold"] = 10
    assert server.rest("PUT", "/jobs/Rest", json=d).status_code == 200
    d = server.rest("GET", "/jobs/Rest").json()["definition"]
    assert d["pressure_threshold"] == 10
    # a definition written before the setting existed reads as "not yielding"
    del d["yield_to_production"], d["pressure_threshold"]
    assert server.rest("PUT", "/jobs/Rest", json=d).status_code == 200
    d = server.rest("GET", "/jobs/Rest").json()["definition"]
    assert (d["yield_to_production"], d["pressure_threshold"]) == (False, 20)


def test_a_copy_job_does_not_yield(server: Server, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "src").mkdir()
    data = server.data
    assert agent_jobs(data, "job", "create", "Src", "--computer",
                      f"s1={tmp_path / 'src'}").returncode == 0
    added = agent_jobs(data, "repository", "add", "Offsite", "--url", str(tmp_path / "offsite"))
    assert added.returncode == 0, added.stderr
    made = agent_jobs(data, "copy", "create", "Copy", "--source", "Src",
                      "--repository", "Offsite")
    assert made.returncode == 0, made.stderr
    refused = agent_jobs(data, "job", "set", "Copy", "--yield-to-production")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "does not yield to production; set it on the source backup job" in refused.stderr
