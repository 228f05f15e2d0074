"""Issue 23, 2: named users of a real ``agent-jobs server run --tls`` process: added
through the local socket by the server's own user, logging in over TLS with real
Argon2id hashes, tokens, the failed-login backoff, TOTP, and the audit trail."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from tests.support.tls_server import TlsServer, agent_jobs

PASSWORD = "correct horse battery"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TlsServer]:
    srv = TlsServer(tmp_path / "data")
    yield srv
    srv.stop()


def add_user(srv: TlsServer, name: str, role: str, *extra: str,
             password: str = PASSWORD) -> None:
    pw = srv.data.parent / f"{name}.pw"
    pw.write_text(password + "\n")
    result = agent_jobs(srv.data, "user", "add", name, "--role", role, "--password-file",
                        str(pw), *extra)
    assert result.returncode == 0, result.stderr


def login(srv: TlsServer, user: str, password: str = PASSWORD, code: str | None = None):
    with srv.http() as http:
        return http.post("/login", json={"user": user, "password": password,
                                         **({"code": code} if code else {})})


def test_users_are_managed_through_the_local_socket_with_argon2id_hashes(
        server: TlsServer) -> None:
    add_user(server, "admin", "administrator")
    add_user(server, "vera", "viewer")
    add_user(server, "rita", "restore-operator", "--restore-to", "/srv/restores")
    listed = json.loads(agent_jobs(server.data, "user", "list", "--json").stdout)
    assert [(u["name"], u["role"], u["enabled"]) for u in listed] == [
        ("admin", "administrator", True), ("rita", "restore-operator", True),
        ("vera", "viewer", True)]
    assert listed[1]["restore_to"] == ["/srv/restores"]
    assert "hash" not in json.dumps(listed) and PASSWORD not in json.dumps(listed)
    db = sqlite3.connect(server.data / "catalogue.sqlite")
    hashes = [r[0] for r in db.execute("SELECT password_hash FROM users")]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    # never the last enabled administrator
    for verb in (["remove", "admin"], ["disable", "admin"],
                 ["set", "admin", "--role", "viewer"]):
        refused = agent_jobs(server.data, "user", *verb)
        assert refused.returncode != 0 and "last enabled administrator" in refused.stderr
    assert agent_jobs(server.data, "user", "set", "vera", "--role", "administrator") \
        .returncode == 0
    assert agent_jobs(server.data, "user", "disable", "admin").returncode == 0
    assert agent_jobs(server.data, "user", "enable", "admin").returncode == 0
    assert agent_jobs(server.data, "user", "remove", "vera").returncode == 0
    bad = agent_jobs(server.data, "user", "add", "x", "--role", "boss", "--password-file",
                     str(server.data.parent / "admin.pw"))
    assert bad.returncode != 0 and "--role 'boss'" in bad.stderr
    short = server.data.parent / "short.pw"
    short.write_text("abc\n")
    bad = agent_jobs(server.data, "user", "add", "y", "--role", "viewer", "--password-file",
                     str(short))
    assert bad.returncode != 0 and "too short" in bad.stderr and "Traceback" not in bad.stderr


def test_login_gives_a_token_that_names_the_user_and_role(server: TlsServer) -> None:
    add_user(server, "olga", "operator")
    answer = login(server, "olga")
    assert answer.status_code == 200, answer.text
    token = answer.json()["token"]
    with server.http(token) as http:
        me = http.get("/me").json()
        assert me["user"] == "olga" and me["role"] == "operator"
        assert "run" in me["permissions"] and "edit_jobs" not in me["permissions"]
    with server.http(server.token) as http:   # the token file: an administrator, as before
        assert http.get("/me").json()["role"] == "administrator"
    with server.http("not-a-token") as http:
        assert http.get("/jobs").status_code == 401
    entries = json.loads(agent_jobs(server.data, "audit", "--json").stdout)
    assert any(e["action"] == "login" and e["user"] == "olga" and e["result"] == "done"
               for e in entries)


def test_failed_logins_are_logged_and_slowed(server: TlsServer) -> None:
    add_user(server, "olga", "operator")
    wrong = login(server, "olga", "wrong password!")
    assert wrong.status_code == 401 and wrong.json()["kind"] == "Unauthorized"
    slowed = login(server, "olga")   # even the right password waits its turn
    assert slowed.status_code == 429 and slowed.json()["kind"] == "TooManyAttempts"
    # one typo does not hold back the others at the same address...
    assert login(server, "nobody", "whatever pass").status_code == 401
    for n in range(3):   # ...but an address that keeps failing is slowed for every name
        assert login(server, f"guess{n}", "whatever pass").status_code == 401
    assert login(server, "anyone", "whatever pass").status_code == 429
    entries = json.loads(agent_jobs(server.data, "audit", "--user", "olga", "--json").stdout)
    results = [e["result"] for e in entries if e["action"] == "login"]
    assert "failed: wrong user name or password" in results
    assert "refused: too many failed logins" in results


def test_a_disabled_user_is_out_at_once(server: TlsServer) -> None:
    add_user(server, "admin", "administrator")
    add_user(server, "vera", "viewer")
    token = login(server, "vera").json()["token"]
    with server.http(token) as http:
        assert http.get("/jobs").status_code == 200
        assert agent_jobs(server.data, "user", "disable", "vera").returncode == 0
        assert http.get("/jobs").status_code == 401


def test_a_disabled_users_event_stream_ends(server: TlsServer) -> None:
    """The live event stream, open for minutes in a console, is cut too: at the next
    event (disabling is one) or keep-alive, not only at the next request."""
    add_user(server, "admin", "administrator")
    add_user(server, "vera", "viewer")
    token = login(server, "vera").json()["token"]
    with server.http(token) as http, http.stream("GET", "/events") as stream:
        assert stream.status_code == 200
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")
        assert agent_jobs(server.data, "user", "disable", "vera").returncode == 0
        rest = list(lines)   # ends when the server closes the stream
        assert not any(line.startswith("data:") for line in rest), rest


def test_totp_is_asked_for_and_checked(server: TlsServer) -> None:
    add_user(server, "admin", "administrator")
    setup = agent_jobs(server.data, "user", "set", "admin", "--totp")
    assert setup.returncode == 0, setup.stderr
    secret = next(line.split(":", 1)[1].strip() for line in setup.stdout.splitlines()
                  if line.strip().startswith("secret:"))
    assert "otpauth://totp/" in setup.stdout
    listed = json.loads(agent_jobs(server.data, "user", "list", "--json").stdout)
    assert listed[0]["totp"] is True and secret not in json.dumps(listed)
    asked = login(server, "admin")
    assert asked.status_code == 401 and asked.json()["kind"] == "CodeRequired"
    answer = login(server, "admin", code=pyotp.TOTP(secret).now())
    assert answer.status_code == 200, answer.text
