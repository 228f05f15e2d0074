"""Issue 22 §1 from the command line, against a real server process:
``agent-jobs notifications set|add-url|remove-url|show|test``, the job's
``--notify-on``, ``--notify-last-retry-only``, ``--notify-to`` and ``--rpo``,
the status line of ``server status``, and the REST routes' error shape."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from core.cli import main as agent_jobs
from tests.conftest import make_tree
from tests.support.receivers import hook_sink, smtp_sink


def test_notification_settings_round_trip_and_the_test_message(cli, tmp_path: Path) -> None:
    password = tmp_path / "smtp-password"
    password.write_text("hunter2\n")
    with smtp_sink() as mail, hook_sink() as hook:
        code, out, err = cli("notifications", "set", "--smtp", f"{mail.host}:{mail.port}",
                             "--from", "backup@example.test", "--to", "ops@example.test,"
                             "boss@example.test", "--security", "none", "--user", "robot",
                             "--password-file", str(password), "--summary-at", "7:05")
        assert code == 0, err
        assert f"E-mail:        {mail.host}:{mail.port} (none, login robot)" in out
        assert "Daily summary: at 07:05" in out
        secret = tmp_path / "data" / "secrets" / "notifications-smtp.password"
        assert secret.read_text() == "hunter2"
        assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600

        code, out, err = cli("notifications", "add-url", hook.url)
        assert code == 0 and "1 notification URL(s)" in out, err
        code, out, err = cli("notifications", "show", "--json")
        assert code == 0, err
        shown = json.loads(out)
        assert shown["smtp"]["host"] == mail.host and shown["smtp"]["password_set"] is True
        assert shown["smtp"]["to"] == ["ops@example.test", "boss@example.test"]
        assert "hunter2" not in out
        assert shown["urls"] == [hook.url] and shown["summary_at"] == "07:05"
        assert shown["status"]["failed"] == 0

        # aiosmtpd offers no AUTH on plain text: the login is refused, and said so
        code, out, err = cli("notifications", "test")
        assert code == 1
        assert f"{hook.url}: delivered" in out
        assert f"mail server {mail.host}:{mail.port}: NOT delivered" in out
        assert "1 of 2 destination(s)" in err
        code, out, err = cli("notifications", "set", "--user", "")   # no login
        assert code == 0 and not secret.exists(), err
        code, out, err = cli("notifications", "test")
        assert code == 0, err
        assert mail.inbox.wait_for(1) and hook.inbox.wait_for(2)
        assert mail.mails[-1].subject == "[Agent Backup] Test notification"
        assert sorted(mail.mails[-1].rcpt_tos) == ["boss@example.test", "ops@example.test"]
        assert hook.posts[-1]["title"] == "[Agent Backup] Test notification"

        code, out, err = cli("notifications", "remove-url", hook.url)
        assert code == 0 and "0 notification URL(s) left" in out, err
        code, out, err = cli("notifications", "show")
        assert "URLs:          none" in out
        code, out, err = cli("server", "status")
        assert code == 0 and "  notifications: Sent 0, failed 0" in out, err

    for args, needle in (
            (("set", "--from", "not-an-address"), "'not-an-address' is not an e-mail address"),
            (("set", "--smtp", "mail:port"), "the port must be a number"),
            (("set", "--password-file", str(tmp_path / "none")), "needs --user"),
            (("set", "--summary-at", "25:00"), "--summary-at: '25:00' is not a time of day"),
            (("set",), "Nothing to set"),
            (("set", "--no-smtp", "--to", "a@b.test"), "--no-smtp forgets"),
            (("add-url", "nosuchservice://x"), "apprise does not understand"),
            (("add-url", "not a url"), "is not a notification URL"),
            (("remove-url", "json://127.0.0.1:9/x"), "No notification URL")):
        code, out, err = cli("notifications", *args)
        assert code == 1 and needle in err, (args, err)
        assert "Traceback" not in err
    code, _out, err = cli("notifications", "set", "--no-smtp")
    assert code == 0, err
    code, _out, err = cli("notifications", "test")
    assert code == 1 and "No notifications are set" in err


def test_job_notify_options(cli, tmp_path: Path) -> None:
    pc = make_tree(tmp_path / "pc")
    code, _out, err = cli("job", "create", "Office", "--computer", f"pc1={pc}")
    assert code == 0, err
    code, out, _err = cli("job", "show", "Office", "--json")
    assert json.loads(out)["definition"]["notify"] == {
        "on": ["warning", "failure"], "last_retry_only": False, "to": [], "rpo_hours": None}
    code, _out, err = cli("job", "set", "Office", "--notify-on", "failure,success",
                          "--notify-last-retry-only", "--notify-to", "boss@example.test",
                          "--rpo", "24")
    assert code == 0, err
    code, out, _err = cli("job", "show", "Office", "--json")
    assert json.loads(out)["definition"]["notify"] == {
        "on": ["success", "failure"], "last_retry_only": True, "to": ["boss@example.test"],
        "rpo_hours": 24}
    code, out, _err = cli("job", "show", "Office")
    assert ("Notify:       On success, failure, after the last retry only; also to "
            "boss@example.test; alert when a computer has no new restore point for 24 h") in out
    code, _out, err = cli("job", "set", "Office", "--notify-every-retry", "--notify-to", "",
                          "--rpo", "off", "--notify-on", "none")
    assert code == 0, err
    code, out, _err = cli("job", "show", "Office", "--json")
    assert json.loads(out)["definition"]["notify"] == {
        "on": [], "last_retry_only": False, "to": [], "rpo_hours": None}
    code, _out, err = cli("job", "create", "Other", "--computer", f"pc1={pc}",
                          "--notify-on", "failure", "--notify-last-retry-only")
    assert code == 0, err
    for args, needle in ((("--notify-on", "sometimes"), "--notify-on 'sometimes'"),
                         (("--notify-to", "boss"), "'boss' is not an e-mail address"),
                         (("--rpo", "soon"), "--rpo 'soon'"),
                         (("--rpo", "99999"), "--rpo: ")):
        code, _out, err = cli("job", "set", "Office", *args)
        assert code == 1 and needle in err, (args, err)
