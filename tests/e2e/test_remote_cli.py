"""Issue 23: the CLI and ServerClient reaching a real ``server run --tls`` process as
named users: --server/--user/--password-file (or the environment), the certificate
pinned by --fingerprint or the known-servers file (a wrong one refused before any
password is sent: the server sees no login), 403s as the operator's words, TOTP,
and logging in again by itself once the token has ended."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from pydantic import SecretStr

from core.api import remote
from core.errors import CodeRequired, Forbidden, Unauthorized
from core.models import Computer, JobDefinition, UserChange
from tests.support.tls_server import TlsServer, agent_jobs

PASSWORD = "correct horse battery"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TlsServer]:
    srv = TlsServer(tmp_path / "data")
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    for name, role in (("ada", "administrator"), ("vera", "viewer")):
        assert agent_jobs(srv.data, "user", "add", name, "--role", role, "--password-file",
                          str(pw)).returncode == 0
    yield srv
    srv.stop()


def logins(srv: TlsServer) -> int:
    entries = json.loads(agent_jobs(srv.data, "audit", "--json").stdout)
    return sum(1 for e in entries if e["action"] == "login")


def remote_cli(srv: TlsServer, tmp_path: Path, user: str, *args: str,
               env: dict[str, str] | None = None):
    # another data directory: nothing of the server's own machine is used
    return agent_jobs(tmp_path / "client-data", "--server", srv.url, "--user", user,
                      "--password-file", str(tmp_path / "pw"), "--known-servers",
                      str(tmp_path / "known_servers"), *args, env=env)


def test_first_use_with_trust_remembers_the_fingerprint_then_it_is_checked(
        server: TlsServer, tmp_path: Path) -> None:
    unknown = remote_cli(server, tmp_path, "vera", "job", "list")
    assert unknown.returncode != 0 and server.fingerprint in unknown.stderr
    assert "--trust" in unknown.stderr and "Traceback" not in unknown.stderr
    first = remote_cli(server, tmp_path, "vera", "--trust", "job", "list", "--json")
    assert first.returncode == 0, first.stderr
    known = (tmp_path / "known_servers").read_text()
    assert known == f"{server.host}:{server.port} {server.fingerprint}\n"
    again = remote_cli(server, tmp_path, "vera", "job", "list", "--json")
    assert again.returncode == 0, again.stderr


def test_a_wrong_fingerprint_is_refused_before_any_password_is_sent(
        server: TlsServer, tmp_path: Path) -> None:
    before = logins(server)
    wrong = "ab" * 32
    refused = remote_cli(server, tmp_path, "ada", "--fingerprint", wrong, "job", "list")
    assert refused.returncode != 0
    assert "refused before sending any password" in refused.stderr
    (tmp_path / "known_servers").write_text(f"{server.host}:{server.port} {wrong}\n")
    changed = remote_cli(server, tmp_path, "ada", "job", "list")
    assert changed.returncode != 0 and "has changed" in changed.stderr
    with pytest.raises(remote.FingerprintMismatch):
        remote.login(server.host, server.port, wrong, "ada", PASSWORD)
    assert logins(server) == before   # the server saw no login at all
    right = remote_cli(server, tmp_path, "ada", "--fingerprint", server.fingerprint,
                       "user", "list", "--json")
    assert right.returncode == 0, right.stderr
    assert logins(server) == before + 1


def test_a_viewer_is_told_what_the_role_does_not_allow(server: TlsServer,
                                                       tmp_path: Path) -> None:
    (tmp_path / "pc").mkdir()
    env = {"AGENT_JOBS_SERVER": server.url, "AGENT_JOBS_USER": "vera",
           "AGENT_JOBS_PASSWORD": PASSWORD, "AGENT_JOBS_FINGERPRINT": server.fingerprint}
    refused = agent_jobs(tmp_path / "client-data", "job", "create", "Mine", "--computer",
                         f"pc={tmp_path / 'pc'}", env=env)
    assert refused.returncode != 0
    assert "Your role (Backup Viewer) does not allow you to create, change or delete jobs; ask " \
           "an administrator." in refused.stderr
    listed = agent_jobs(tmp_path / "client-data", "job", "list", "--json", env=env)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    status = agent_jobs(tmp_path / "client-data", "server", "status", env=env)
    assert status.returncode != 0 and "leave out --server" in status.stderr


def test_the_connect_api_probe_login_code_and_relogin(server: TlsServer) -> None:
    assert remote.probe(server.host, server.port) == server.fingerprint
    with pytest.raises(Unauthorized):
        remote.login(server.host, server.port, server.fingerprint, "mallory", "wrong password")
    ada = remote.login(server.host, server.port, server.fingerprint, "ada",
                       SecretStr(PASSWORD))
    try:
        # one failure slows that name, not the others at this address
        assert ada.whoami().role.value == "administrator"
        setup = ada.set_user_totp("vera", True)
        assert setup is not None
        with pytest.raises(CodeRequired):
            remote.login(server.host, server.port, server.fingerprint, "vera", PASSWORD)
        vera = remote.login(server.host, server.port, server.fingerprint, "vera", PASSWORD,
                            pyotp.TOTP(setup.secret).now())
        try:
            assert vera.whoami().user == "vera"
            with pytest.raises(Forbidden, match=r"Your role \(Backup Viewer\) does not allow"):
                vera.create_job(JobDefinition(name="Nope",
                                              computers=[Computer(name="pc", path="/tmp")]))
        finally:
            vera.close()
        # ada's token ends (setting a password drops the user's tokens; the same one
        # here): the client logs in again by itself with what it was given
        assert agent_jobs(server.data, "user", "set", "ada", "--password-file",
                          str(server.data.parent / "pw")).returncode == 0
        assert [u.name for u in ada.list_users()] == ["ada", "vera"]
        logged = [e for e in ada.list_audit(user="ada") if e.action == "login"]
        assert len(logged) == 2
    finally:
        ada.close()
