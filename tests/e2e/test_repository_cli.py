"""End to end: ``agent-jobs repository ...`` and jobs on named repositories,
against a real ``agent-jobs server run`` process (S3 on a real SeaweedFS).
Secrets are given in files or the server's environment, and never appear in
any output, answer or log."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_tree
from tests.reliability.helpers import ENV, ROOT, agent_jobs, one_line_error, read_only

pytestmark = pytest.mark.timeout(300)

PASSWORD = "e2e vault password Ωmega-4417"
NEW_PASSWORD = "second e2e password #8812"


class Server:
    """``agent-jobs server run --listen 127.0.0.1:0``, with ``env`` added."""

    def __init__(self, data: Path, env: dict[str, str] | None = None) -> None:
        self.data = data
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "--data-dir", str(data), "server", "run",
             "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**ENV, **(env or {})}, cwd=ROOT)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert "listening on" in line, line + self.proc.stderr.read()
        self.url = line.split(" and ")[1].split(". ")[0].strip()
        self.token = (data / "server.token").read_text().strip()

    def rest(self, method: str, path: str, **kw) -> httpx.Response:
        return httpx.request(method, f"{self.url}/api/v1{path}", timeout=60,
                             headers={"Authorization": f"Bearer {self.token}"}, **kw)

    def stop(self) -> str:
        """Stop it (SIGTERM) and return what it printed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=60)
        return out + err


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data")
    yield srv
    srv.stop()


def run(data: Path, *args: str) -> subprocess.CompletedProcess:
    return agent_jobs(data, *args)


def ok(data: Path, *args: str) -> str:
    result = run(data, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def logs_of(data: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in (data / "logs").glob("*.log*"))


def test_a_job_on_an_encrypted_repository_backs_up_and_restores_through_the_server(
        server: Server, tmp_path: Path) -> None:
    data = server.data
    src = make_tree(tmp_path / "pc1", files=4, size=30_000)
    password_file = tmp_path / "vault.pw"
    password_file.write_text(PASSWORD + "\nignored second line\n")
    new_password_file = tmp_path / "new.pw"
    new_password_file.write_text(NEW_PASSWORD)
    outputs: list[str] = []

    def ok_(*args: str) -> str:
        out = ok(data, *args)
        outputs.append(out)
        return out

    said = ok_("repository", "test", "--url", str(tmp_path / "vault"),
               "--password-file", str(password_file))
    assert said.strip() == "Reachable; empty — a new encrypted repository will be created."
    said = ok_("repository", "add", "Vault", "--url", str(tmp_path / "vault"),
               "--password-file", str(password_file))
    assert "Added backup repository 'Vault'" in said and "(encrypted)" in said
    listed = json.loads(ok_("repository", "list", "--json"))
    assert [(r["name"], r["encrypted"], r["default"]) for r in listed] == [
        ("Default Backup Repository", False, True), ("Vault", True, False)]
    assert "Vault" in ok_("repository", "list")

    ok_("job", "create", "Secure", "--computer", f"pc1={src}", "--repository", "Vault")
    assert json.loads(ok_("job", "show", "Secure", "--json"))["target"] == "Vault"
    assert "Success" in ok_("start", "Secure", "--wait")
    (point,) = json.loads(ok_("points", "Secure", "--json"))
    assert point["repository"] == "Vault"
    ok_("restore", point["id"], str(tmp_path / "out"))
    for name in ("file_000.dat", "file_003.dat"):
        assert (tmp_path / "out" / name).read_bytes() == (src / name).read_bytes()
    assert "OK" in ok_("verify")

    assert "Added key" in ok_("repository", "key", "add", "Vault", "--new-password-file",
                              str(new_password_file))
    keys = json.loads(ok_("repository", "key", "list", "Vault", "--json"))
    assert len(keys) == 2 and sum(k["current"] for k in keys) == 1
    other = next(k["id"] for k in keys if not k["current"])
    current = next(k["id"] for k in keys if k["current"])
    one_line_error(run(data, "repository", "key", "remove", "Vault", current), "opened with")
    ok_("repository", "key", "remove", "Vault", other)

    one_line_error(run(data, "repository", "remove", "Vault"), "used by job(s) Secure")
    one_line_error(run(data, "job", "set", "Secure", "--repository", "Nowhere"),
                   "Unknown backup repository 'Nowhere'", "'Vault'")
    one_line_error(run(data, "repository", "remove", "Default Backup Repository"),
                   "cannot be removed")

    answers = [server.rest("GET", "/repositories").text,
               server.rest("GET", "/repositories/Vault/keys").text,
               server.rest("GET", "/jobs/Secure").text]
    secrets = [PASSWORD, NEW_PASSWORD]
    for text in outputs + answers + [logs_of(data)]:
        for secret in secrets:
            assert secret not in text
    stored = next((data / "secrets").glob("*.password"))
    assert stored.read_text() == PASSWORD and oct(stored.stat().st_mode)[-3:] == "600"
    assert all(secret not in server.stop() for secret in secrets)

    # The data directory read-only, no server: the point is still restored.
    with read_only(data):
        out = run(data, "restore", point["id"], str(tmp_path / "again"))
        assert out.returncode == 0, out.stderr
        assert (tmp_path / "again" / "file_001.dat").read_bytes() == \
            (src / "file_001.dat").read_bytes()
        assert "Vault" in ok(data, "repository", "list")
        one_line_error(run(data, "repository", "remove", "Vault"), "read-only")


def test_cli_mistakes_about_repositories_get_one_line_each(server: Server,
                                                           tmp_path: Path) -> None:
    data = server.data
    empty = tmp_path / "empty.pw"
    empty.write_text("\nsecond line is not the password\n")
    cases = [
        (("repository", "add", "X", "--url", str(tmp_path / "x"), "--password-file",
          str(tmp_path / "missing.pw")), "does not exist"),
        (("repository", "add", "X", "--url", str(tmp_path / "x"), "--password-file",
          str(empty)), "first line"),
        (("repository", "add", "X", "--url", str(tmp_path / "x"), "--password-file",
          str(tmp_path)), "folder"),
        (("repository", "add", "X", "--url", "s3:http://127.0.0.1:9/bucket"),
         "--insecure-no-encryption"),
        (("repository", "add", "X", "--url", "sftp:host:/srv"), "not supported"),
        (("repository", "add", "a/b", "--url", str(tmp_path / "x")), "Invalid repository name"),
        (("repository", "remove", "Nothing"), "Unknown backup repository"),
        (("repository", "key", "list", "Default Backup Repository"), "not encrypted"),
        (("job", "create", "J", "--computer", f"pc1={tmp_path}", "--repository", "Nope"),
         "Unknown backup repository 'Nope'"),
        (("job", "create", "J", "--computer", f"pc1={tmp_path}", "--identity",
          str(tmp_path / "no-key")), "--identity"),
    ]
    for args, words in cases:
        one_line_error(run(data, *args), words)
    # A relative folder is made absolute by the CLI, where it was typed.
    result = subprocess.run(
        [sys.executable, "-m", "core.cli", "--data-dir", str(data), "repository", "add",
         "Here", "--url", "relative-repo"], capture_output=True, text=True, env=ENV,
        cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "relative-repo" / "config.json").exists()
    removed = ok(data, "repository", "remove", "Here")
    assert "not deleted" in removed and str(tmp_path / "relative-repo") in removed
    assert (tmp_path / "relative-repo" / "config.json").exists()


def test_job_ssh_options_fill_the_jobs_ssh_settings(server: Server, tmp_path: Path) -> None:
    data = server.data
    src = make_tree(tmp_path / "pc1", files=1)
    key = tmp_path / "id_backup"
    key.write_text("not a real key; only its path is kept\n")
    ok(data, "job", "create", "Remote", "--computer", f"pc1={src}", "--identity", str(key),
       "--known-hosts", str(tmp_path / "known_hosts"), "--accept-new-host-key")
    ssh = json.loads(ok(data, "job", "show", "Remote", "--json"))["definition"]["ssh"]
    assert ssh == {"identity_file": str(key), "known_hosts_file": str(tmp_path / "known_hosts"),
                   "accept_new_host_key": True}
    ok(data, "job", "set", "Remote", "--no-accept-new-host-key", "--tasks", "1")
    ssh = json.loads(ok(data, "job", "show", "Remote", "--json"))["definition"]["ssh"]
    assert ssh["accept_new_host_key"] is False and ssh["identity_file"] == str(key)


def test_the_servers_password_is_checked_listed_set_and_changed_through_the_cli(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    src = make_tree(tmp_path / "pc1", files=2, size=10_000)
    good, wrong, new = tmp_path / "good.pw", tmp_path / "wrong.pw", tmp_path / "new.pw"
    good.write_text(PASSWORD + "\n")
    wrong.write_text("not the vault password\n")
    new.write_text(NEW_PASSWORD + "\n")
    outputs: list[str] = []
    server = Server(data)
    try:
        outputs.append(ok(data, "repository", "add", "Vault", "--url", str(tmp_path / "vault"),
                          "--password-file", str(good)))
        ok(data, "job", "create", "Secure", "--computer", f"pc1={src}", "--repository", "Vault")
    finally:
        outputs.append(server.stop())
    stored = next((data / "secrets").glob("*.password"))
    stored.write_text("a password typed wrong\n")   # edited by hand
    hint = "agent-jobs repository password Vault --password-file FILE"
    server = Server(data)
    try:
        (vault,) = [r for r in json.loads(ok(data, "repository", "list", "--json"))
                    if r["name"] == "Vault"]
        assert "does not open it" in vault["problem"] and hint in vault["problem"]
        assert "does not open it" in ok(data, "repository", "list")
        one_line_error(run(data, "start", "Secure", "--wait"), "does not open it", hint)
        one_line_error(run(data, "repository", "password", "Vault", "--password-file",
                           str(wrong)), "does not open", "nothing was changed")
        assert stored.read_text() == "a password typed wrong\n"
        outputs.append(ok(data, "repository", "password", "Vault", "--password-file",
                          str(good)))
        assert stored.read_text() == PASSWORD
        (vault,) = [r for r in json.loads(ok(data, "repository", "list", "--json"))
                    if r["name"] == "Vault"]
        assert vault["problem"] is None
        assert "Success" in ok(data, "start", "Secure", "--wait")
        said = ok(data, "repository", "key", "passwd", "Vault", "--new-password-file",
                  str(new))
        outputs.append(said)
        assert "Changed the password" in said
        (key,) = json.loads(ok(data, "repository", "key", "list", "Vault", "--json"))
        assert key["current"] and key["id"] in said
        assert stored.read_text() == NEW_PASSWORD
        assert "Success" in ok(data, "start", "Secure", "--wait")
        outputs.append(server.rest("GET", "/repositories").text)
    finally:
        outputs.append(server.stop())
    server = Server(data)   # the new password opens it after a restart
    try:
        assert "Success" in ok(data, "start", "Secure", "--wait")
    finally:
        outputs.append(server.stop())
    for text in outputs + [logs_of(data)]:
        assert PASSWORD not in text and NEW_PASSWORD not in text


NO_KEYS = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}


def test_a_damaged_key_object_is_named_as_damage_not_as_a_wrong_password(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    src = make_tree(tmp_path / "pc1", files=2, size=10_000)
    good = tmp_path / "good.pw"
    good.write_text(PASSWORD + "\n")
    server = Server(data)
    try:
        ok(data, "repository", "add", "Vault", "--url", str(tmp_path / "vault"),
           "--password-file", str(good))
        ok(data, "job", "create", "Secure", "--computer", f"pc1={src}", "--repository",
           "Vault")
    finally:
        server.stop()   # a new server opens the repository afresh
    (key,) = (tmp_path / "vault" / "keys").iterdir()
    raw = bytearray(key.read_bytes())
    at = raw.index(b'"data": "') + len(b'"data": "') + 20   # a byte of the sealed key
    raw[at] = ord("A") if raw[at] != ord("A") else ord("B")  # still base64
    key.write_bytes(bytes(raw))
    server = Server(data)
    try:
        (vault,) = [r for r in json.loads(ok(data, "repository", "list", "--json"))
                    if r["name"] == "Vault"]
        for said in (vault["problem"],
                     one_line_error(run(data, "start", "Secure", "--wait"), key.name)):
            assert f"keys/{key.name}" in said and "is damaged" in said, said
            assert "restored from a copy" in said and "does not open" not in said, said
            assert "set the right one" not in said, said
    finally:
        server.stop()


def test_s3_repositories_through_the_cli_send_the_shells_keys_or_a_credentials_file(
        tmp_path: Path, seaweed, s3_url: str) -> None:  # noqa: F811
    """The server runs without S3 keys (as one the CLI starts by itself); the
    CLI sends its own AWS_* keys or a credentials file's, and the server
    keeps them in a 0600 file. No key appears in any output, answer or log."""
    data = tmp_path / "data"
    shell = {"AWS_ACCESS_KEY_ID": seaweed.access_key,
             "AWS_SECRET_ACCESS_KEY": seaweed.secret_key}
    creds = tmp_path / "credentials"
    creds.write_text(f"[default]\naws_access_key_id = {seaweed.access_key}\n"
                     f"aws_secret_access_key = {seaweed.secret_key}\n")
    creds.chmod(0o600)
    loose = tmp_path / "loose-credentials"
    loose.write_text(creds.read_text())
    loose.chmod(0o644)
    wrong = tmp_path / "wrong-credentials"
    wrong.write_text(f"[default]\naws_access_key_id = {seaweed.access_key}\n"
                     "aws_secret_access_key = not-the-secret\n")
    wrong.chmod(0o600)
    printed: list[str] = []
    server = Server(data, env=NO_KEYS)
    try:
        password_file = tmp_path / "s3.pw"
        password_file.write_text(PASSWORD)
        src = make_tree(tmp_path / "pc1", files=3, size=20_000)
        one_line_error(agent_jobs(data, "repository", "add", "Cloud", "--url", s3_url,
                                  "--password-file", str(password_file), env=NO_KEYS),
                       "No S3 keys")
        one_line_error(run(data, "repository", "add", "Cloud", "--url", s3_url,
                           "--password-file", str(password_file), "--credentials-file",
                           str(loose)), "can be read by other users", "chmod 600")
        said = agent_jobs(data, "repository", "add", "Cloud", "--url", s3_url,
                          "--password-file", str(password_file), env=shell)
        assert said.returncode == 0, said.stderr
        printed.append(said.stdout)
        assert "(encrypted)" in said.stdout
        (keys_file,) = (data / "secrets").glob("*.s3")
        assert oct(keys_file.stat().st_mode)[-3:] == "600"
        (cloud,) = [r for r in json.loads(ok(data, "repository", "list", "--json"))
                    if r["name"] == "Cloud"]
        assert cloud["kind"] == "s3" and cloud["problem"] is None and cloud["used_bytes"] > 0
        ok(data, "job", "create", "Up", "--computer", f"pc1={src}", "--repository", "Cloud")
        assert "Success" in ok(data, "start", "Up", "--wait")
        (point,) = json.loads(ok(data, "points", "Up", "--json"))
        ok(data, "restore", point["id"], str(tmp_path / "out"))
        assert (tmp_path / "out" / "file_002.dat").read_bytes() == \
            (src / "file_002.dat").read_bytes()
        plain_url = "S3:" + seaweed.url(seaweed.new_bucket())[3:]   # any case, as restic
        printed.append(ok(data, "repository", "test", "--url", plain_url,
                          "--insecure-no-encryption", "--credentials-file", str(creds)))
        insecure = ok(data, "repository", "add", "Plain", "--url", plain_url,
                      "--insecure-no-encryption", "--credentials-file", str(creds))
        printed.append(insecure)
        assert "(not encrypted)" in insecure
        assert len(list((data / "secrets").glob("*.s3"))) == 2
        before = keys_file.read_bytes()
        printed.append(one_line_error(run(data, "repository", "set-keys", "Cloud",
                                          "--credentials-file", str(wrong)),
                                      "secret access key is wrong"))
        assert keys_file.read_bytes() == before
        one_line_error(agent_jobs(data, "repository", "set-keys", "Cloud", env=NO_KEYS),
                       "--credentials-file")
        keys_file.unlink()   # lost: the keys can be given again later
        said = ok(data, "repository", "set-keys", "Cloud", "--credentials-file", str(creds))
        printed.append(said)
        assert "S3 keys reach backup repository 'Cloud'" in said
        assert keys_file.exists() and oct(keys_file.stat().st_mode)[-3:] == "600"
        printed.append(server.rest("GET", "/repositories").text)
    finally:
        printed.append(server.stop())
    for text in printed + [logs_of(data)]:
        assert PASSWORD not in text and seaweed.secret_key not in text


def test_immutable_s3_repository_from_the_cli_and_rest(tmp_path: Path, seaweed,  # noqa: F811
                                                       s3_url: str) -> None:
    """``repository add --immutable-days N`` needs a bucket with Object Lock:
    a plain bucket is refused with how to make one, a local folder with why;
    REST lists the repository's days."""
    data = tmp_path / "data"
    shell = {"AWS_ACCESS_KEY_ID": seaweed.access_key,
             "AWS_SECRET_ACCESS_KEY": seaweed.secret_key}
    password_file = tmp_path / "s3.pw"
    password_file.write_text(PASSWORD)
    server = Server(data, env=NO_KEYS)
    try:
        one_line_error(agent_jobs(data, "repository", "add", "Plain", "--url", s3_url,
                                  "--password-file", str(password_file), "--immutable-days",
                                  "7", env=shell),
                       "does not have Object Lock enabled", "--object-lock-enabled-for-bucket")
        one_line_error(agent_jobs(data, "repository", "test", "--url", s3_url,
                                  "--password-file", str(password_file), "--immutable-days",
                                  "7", env=shell), "does not have Object Lock enabled")
        one_line_error(agent_jobs(data, "repository", "add", "Here", "--url",
                                  str(tmp_path / "folder"), "--immutable-days", "7"),
                       "Immutability needs object storage (S3 with Object Lock)")
        locked = seaweed.url(seaweed.new_locked_bucket())
        tested = agent_jobs(data, "repository", "test", "--url", locked, "--password-file",
                            str(password_file), "--immutable-days", "7", env=shell)
        assert "immutable for 7 day(s)" in tested.stdout, tested.stderr
        said = agent_jobs(data, "repository", "add", "Vault", "--url", locked,
                          "--password-file", str(password_file), "--immutable-days", "7",
                          env=shell)
        assert said.returncode == 0, said.stderr
        assert "immutable for 7 day(s)" in said.stdout
        listed = server.rest("GET", "/repositories").json()
        assert {r["name"]: r["immutable_days"] for r in listed} == {
            "Default Backup Repository": None, "Vault": 7}
        assert [r["name"] for r in listed] == ["Default Backup Repository", "Vault"]
    finally:
        server.stop()
