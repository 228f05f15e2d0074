"""Named backup repositories: the registry, its secrets, jobs writing to a
repository of their own, and the REST API over them (the real server hosted in
the test process). S3 runs against a real SeaweedFS."""
from __future__ import annotations

import logging
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from core.api import RepositorySpec
from core.errors import AlreadyExists, ConsoleError, InvalidInput, JobStateError
from core.models import Computer, JobDefinition
from core.paths import server_socket_path
from core.service.registry import DEFAULT_REPOSITORY, parse_url
from core.repository import Repository
from core.api.client import ServerClient
from core.api.sockets import unix_address
from core.service.facade import BackupService
from tests.conftest import make_tree
from tests.support.seaweed import TcpRelay, relay_url
from tests.support.server import start_server, stop_server

PASSWORD = "correct horse battery staple 7Qx!"
OTHER_PASSWORD = "a second password 9Zk#"


def spec(name: str, url: Path | str, password: str | None = None, **kw) -> RepositorySpec:
    return RepositorySpec(name=name, url=str(url),
                          password=SecretStr(password) if password is not None else None, **kw)


def job(name: str, src: Path, repository: str) -> JobDefinition:
    return JobDefinition(name=name, computers=(Computer(name="pc1", path=str(src)),),
                         repository=repository)


def backup(service, name: str) -> None:
    session = service.wait_session(service.start_job(name), 120)
    assert session.result is not None and session.result.value == "Success", session.log


# -- locations -----------------------------------------------------------------------------
def test_locations_follow_restics_syntax(tmp_path: Path) -> None:
    assert parse_url(str(tmp_path / "repo")).kind == "local"
    s3 = parse_url("s3:http://127.0.0.1:9000/bucket/some/prefix/")
    assert (s3.kind, s3.location) == ("s3", "s3:http://127.0.0.1:9000/bucket/some/prefix")
    assert parse_url("s3:storage.example.com/bkt").location == "s3:https://storage.example.com/bkt"
    assert parse_url("S3:HTTP://127.0.0.1:9000/bucket").location == \
        "s3:http://127.0.0.1:9000/bucket"
    for bad, words in [("relative/folder", "absolute"), ("", "--url"),
                       ("sftp:host:/srv", "not supported"),
                       ("s3:http://key:secret@host/bucket", "credentials"),
                       ("s3:http://127.0.0.1:9000/", "bucket")]:
        with pytest.raises(InvalidInput, match=words):
            parse_url(bad)


# -- local repositories, in the service ------------------------------------------------------
def test_an_encrypted_local_repository_keeps_its_password_secret_and_serves_a_job(
        service: BackupService, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "pc1", files=4, size=50_000)
    target = tmp_path / "vault"
    assert service.test_repository(spec("", target, PASSWORD)) == \
        "Reachable; empty — a new encrypted repository will be created"
    info = service.add_repository(spec("Vault", target, PASSWORD))
    assert (info.name, info.kind, info.encrypted, info.default) == ("Vault", "local", True, False)
    assert info.used_bytes and info.capacity_bytes and info.free_bytes is not None
    assert (target / "config.json").exists() and list((target / "keys").iterdir())

    secrets = service.data_dir / "secrets"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    files = list(secrets.iterdir())
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert files[0].read_text() == PASSWORD

    service.create_job(job("Secure", src, "vault"))   # names are case-insensitive
    assert service.get_job("Secure").definition.repository == "Vault"
    backup(service, "Secure")
    (point,) = service.list_points("Secure")
    assert point.repository == "Vault"
    assert not (service.data_dir / "repositories" / "default" / "points").exists() or \
        not list((service.data_dir / "repositories" / "default" / "points").iterdir())
    out = tmp_path / "restored"
    service.restore(point.id, out)
    assert (out / "file_002.dat").read_bytes() == (src / "file_002.dat").read_bytes()
    # The data is encrypted on disk: no plain file content in any object.
    plain = (src / "file_001.dat").read_bytes()[:4096]
    assert not any(plain in f.read_bytes() for f in target.rglob("*") if f.is_file())

    listed = {r.name: r for r in service.list_repositories()}
    assert list(listed) == [DEFAULT_REPOSITORY, "Vault"]
    assert listed["Vault"].jobs == ["Secure"] and listed[DEFAULT_REPOSITORY].default
    assert PASSWORD not in repr(service.list_repositories())
    assert service.verify().ok


def test_the_server_opens_a_registered_repository_again_after_a_restart(
        tmp_path: Path) -> None:
    src = make_tree(tmp_path / "pc1", files=2)
    svc = BackupService(tmp_path / "data")
    try:
        svc.add_repository(spec("Vault", tmp_path / "vault", PASSWORD))
        svc.create_job(job("Secure", src, "Vault"))
        backup(svc, "Secure")
    finally:
        svc.close()
    svc = BackupService(tmp_path / "data")
    try:
        (point,) = svc.list_points("Secure")
        assert point.damaged is None
        backup(svc, "Secure")   # an increment on the same encrypted repository
        assert [p.type.value for p in svc.list_points("Secure")] == ["Full", "Increment"]
        svc.restore(point.id, tmp_path / "out")
        assert (tmp_path / "out" / "file_001.dat").read_bytes() == \
            (src / "file_001.dat").read_bytes()
    finally:
        svc.close()


def test_rebuilding_the_catalogue_keeps_registered_repositories_and_their_points(
        tmp_path: Path) -> None:
    from core.service.offline import rebuild_catalogue

    src = make_tree(tmp_path / "pc1", files=2)
    svc = BackupService(tmp_path / "data")
    try:
        svc.add_repository(spec("Vault", tmp_path / "vault", PASSWORD))
        svc.create_job(job("Secure", src, "Vault"))
        backup(svc, "Secure")
        (point,) = svc.list_points()
    finally:
        svc.close()
    report = rebuild_catalogue(tmp_path / "data")
    assert report.points_imported == 1 and report.jobs_kept == ["Secure"], report
    svc = BackupService(tmp_path / "data")
    try:
        assert [r.name for r in svc.list_repositories()] == [DEFAULT_REPOSITORY, "Vault"]
        (again,) = svc.list_points()
        assert (again.id, again.repository, again.damaged) == (point.id, "Vault", None)
        backup(svc, "Secure")
    finally:
        svc.close()


def test_a_wrong_password_is_refused_at_add_time_and_nothing_is_recorded(
        service: BackupService, tmp_path: Path) -> None:
    Repository.open(tmp_path / "existing", create=True, password=PASSWORD).close()
    assert service.test_repository(spec("", tmp_path / "existing", PASSWORD)).startswith(
        "Existing repository, encrypted, the password opens it")
    with pytest.raises(ConsoleError, match="password does not open"):
        service.test_repository(spec("", tmp_path / "existing", "wrong"))
    with pytest.raises(ConsoleError, match="password does not open"):
        service.add_repository(spec("Old", tmp_path / "existing", "wrong"))
    with pytest.raises(ConsoleError, match="encrypted: give its password"):
        service.add_repository(spec("Old", tmp_path / "existing"))
    assert [r.name for r in service.list_repositories()] == [DEFAULT_REPOSITORY]
    assert not (service.data_dir / "secrets").exists() or \
        not list((service.data_dir / "secrets").iterdir())
    service.add_repository(spec("Old", tmp_path / "existing", PASSWORD))
    assert [r.name for r in service.list_repositories()] == [DEFAULT_REPOSITORY, "Old"]


def test_bad_repository_requests_get_one_clear_message(service: BackupService,
                                                       tmp_path: Path) -> None:
    service.add_repository(spec("Plain", tmp_path / "plain"))
    service.add_repository(spec("Deep", tmp_path / "outer" / "deep"))
    cases = [
        (spec("Inner", tmp_path / "plain" / "sub"), InvalidInput,
         "inside the backup repository 'Plain'.*cannot be nested"),
        (spec("Outer", tmp_path / "outer"), InvalidInput,
         "contains the backup repository 'Deep'"),
        (spec("plain", tmp_path / "other"), AlreadyExists, "already exists"),
        (spec("Second", tmp_path / "plain"), AlreadyExists, "already the backup repository"),
        (spec("default", tmp_path / "x"), InvalidInput, "data directory's own"),
        (spec("a/b", tmp_path / "x"), InvalidInput, "Invalid repository name"),
        (spec("Empty", tmp_path / "x", ""), InvalidInput, "password is empty"),
        (spec("Both", tmp_path / "x", PASSWORD, insecure_no_encryption=True), InvalidInput,
         "choose one"),
        (spec("Home", tmp_path), InvalidInput, "cannot hold the data directory"),
        (spec("S3", "s3:http://127.0.0.1:9/bucket"), InvalidInput,
         "--insecure-no-encryption"),
    ]
    for bad, error, words in cases:
        with pytest.raises(error, match=words):
            service.add_repository(bad)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("not a repository")
    with pytest.raises(InvalidInput, match="holds other files"):
        service.test_repository(spec("", tmp_path / "busy"))
    src = make_tree(tmp_path / "pc1", files=1)
    with pytest.raises(InvalidInput, match="Unknown backup repository 'Nowhere'.*'Plain'"):
        service.create_job(job("J", src, "Nowhere"))
    assert service.test_repository(spec("", tmp_path / "new")) == \
        "Reachable; empty — a new unencrypted repository will be created"


def test_a_repository_in_use_is_kept_and_removing_one_never_deletes_data(
        service: BackupService, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "pc1", files=2)
    service.add_repository(spec("Spare", tmp_path / "spare", PASSWORD))
    service.create_job(job("Uses it", src, "Spare"))
    with pytest.raises(JobStateError, match="used by job\\(s\\) Uses it"):
        service.remove_repository("Spare")
    backup(service, "Uses it")
    (point,) = service.list_points("Uses it")
    service.update_job("Uses it", job("Uses it", src, DEFAULT_REPOSITORY))
    assert service.remove_repository("Spare") == 1      # its point is no longer listed
    assert [r.name for r in service.list_repositories()] == [DEFAULT_REPOSITORY]
    assert service.list_points("Uses it") == []
    assert (tmp_path / "spare" / "config.json").exists()   # the data stays
    assert not list((service.data_dir / "secrets").iterdir())   # the password goes
    service.add_repository(spec("Spare again", tmp_path / "spare", PASSWORD))
    (again,) = service.list_points("Uses it")             # listed again, and restorable
    assert (again.id, again.repository) == (point.id, "Spare again")
    service.restore(again.id, tmp_path / "out")
    assert (tmp_path / "out" / "file_001.dat").read_bytes() == \
        (src / "file_001.dat").read_bytes()
    with pytest.raises(InvalidInput, match="cannot be removed"):
        service.remove_repository(DEFAULT_REPOSITORY)


def test_points_of_an_existing_repository_are_listed_when_it_is_added(
        service: BackupService, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "pc1", files=2)
    service.add_repository(spec("Shared", tmp_path / "shared", PASSWORD))
    service.create_job(job("Nightly", src, "Shared"))
    backup(service, "Nightly")
    (point,) = service.list_points("Nightly")
    other = BackupService(tmp_path / "other-data")   # another server finds the points
    try:
        other.add_repository(spec("Found", tmp_path / "shared", PASSWORD))
        (found,) = other.list_points()
        assert (found.id, found.repository, found.job) == (point.id, "Found", "Nightly")
        other.restore(found.id, tmp_path / "out")
        assert (tmp_path / "out" / "file_000.dat").read_bytes() == \
            (src / "file_000.dat").read_bytes()
    finally:
        other.close()


def test_passwords_of_an_encrypted_repository_are_added_listed_and_removed(
        service: BackupService, tmp_path: Path) -> None:
    service.add_repository(spec("Vault", tmp_path / "vault", PASSWORD))
    (first,) = service.list_repository_keys("Vault")
    assert first.current
    added = service.add_repository_key("Vault", SecretStr(OTHER_PASSWORD))
    keys = {k.id: k for k in service.list_repository_keys("Vault")}
    assert set(keys) == {first.id, added} and not keys[added].current
    Repository.open(tmp_path / "vault", password=OTHER_PASSWORD).close()   # it opens
    with pytest.raises(ConsoleError, match="opened with"):
        service.remove_repository_key("Vault", first.id)
    (tmp_path / "vault" / "keys" / added).write_text("{not json")   # a damaged key object
    keys = {k.id: k for k in service.list_repository_keys("Vault")}
    assert keys[added].damaged and keys[added].created is None and not keys[first.id].damaged
    service.remove_repository_key("Vault", added)
    assert [k.id for k in service.list_repository_keys("Vault")] == [first.id]
    with pytest.raises(ConsoleError, match="password does not open"):
        Repository.open(tmp_path / "vault", password=OTHER_PASSWORD)
    service.add_repository(spec("Plain", tmp_path / "plain"))
    with pytest.raises(InvalidInput, match="not encrypted"):
        service.list_repository_keys("Plain")


def test_verify_everything_covers_every_repository(service: BackupService,
                                                   tmp_path: Path) -> None:
    service.add_repository(spec("Second", tmp_path / "second"))
    service.create_job(job("A", make_tree(tmp_path / "a", files=2, seed=1), DEFAULT_REPOSITORY))
    service.create_job(job("B", make_tree(tmp_path / "b", files=2, seed=2), "Second"))
    backup(service, "A")
    backup(service, "B")
    report = service.verify()
    assert report.ok and report.points_checked == 2
    pack = next(p for p in (tmp_path / "second" / "packs").rglob("*") if p.is_file())
    data = bytearray(pack.read_bytes())
    data[len(data) // 3] ^= 0xFF
    pack.write_bytes(bytes(data))
    report = service.verify()
    assert not report.ok and report.points_checked == 2
    (b_point,) = service.list_points("B")
    assert {p.point_id for p in report.problems if p.point_id} == {b_point.id}
    assert service.list_points("B")[0].damaged
    assert service.list_points("A")[0].damaged is None


def test_verify_everything_names_a_repository_it_cannot_reach_and_checks_the_rest(
        tmp_path: Path) -> None:
    svc = BackupService(tmp_path / "data")
    try:
        svc.add_repository(spec("Detached", tmp_path / "usb"))
        svc.create_job(job("Local", make_tree(tmp_path / "a", files=2), DEFAULT_REPOSITORY))
        backup(svc, "Local")
    finally:
        svc.close()
    (tmp_path / "usb").rename(tmp_path / "usb-elsewhere")   # its disk is detached
    svc = BackupService(tmp_path / "data")
    try:
        report = svc.verify()
        assert report.points_checked == 1 and not report.ok
        (problem,) = report.problems
        assert problem.problem.startswith("repository 'Detached' could not be verified")
        assert str(tmp_path / "usb") in problem.problem
        detached = next(r for r in svc.list_repositories() if r.name == "Detached")
        assert detached.problem and "does not exist" in detached.problem
    finally:
        svc.close()


# -- a changed config, the server's password ----------------------------------------------
NEW_PASSWORD = "the replacement password 3Vw%"


def stored_password(data: Path) -> Path:
    (found,) = (data / "secrets").glob("*.password")
    return found


def objects(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "lock" not in p.name and not p.name.startswith(".")}


def test_a_registered_encrypted_repository_whose_config_says_plain_is_not_written(
        tmp_path: Path) -> None:
    """Its keys removed and config.json switched to "none": the repository
    opens as a plain one, but the registry knows it as encrypted, so no
    backup is written into it in plaintext."""
    src = make_tree(tmp_path / "pc1", files=2)
    vault = tmp_path / "vault"
    svc = BackupService(tmp_path / "data")
    try:
        svc.add_repository(spec("Vault", vault, PASSWORD))
        svc.create_job(job("Secure", src, "Vault"))
        backup(svc, "Secure")
    finally:
        svc.close()
    for key in (vault / "keys").iterdir():
        key.unlink()
    (vault / "config.sealed").unlink()
    config = (vault / "config.json").read_text()
    (vault / "config.json").write_text(config.replace("aes-256-gcm", "none"))
    before = objects(vault)
    svc = BackupService(tmp_path / "data")
    try:
        with pytest.raises(ConsoleError, match="'Vault' was added encrypted, but the "
                                               "config.json .* says it is not encrypted"):
            svc.start_job("Secure")
    finally:
        svc.close()
    assert objects(vault) == before


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_a_stored_password_ending_in_a_line_end_still_opens_the_repository(
        tmp_path: Path, line_end: str) -> None:
    src = make_tree(tmp_path / "pc1", files=2)
    svc = BackupService(tmp_path / "data")
    try:
        svc.add_repository(spec("Vault", tmp_path / "vault", PASSWORD))
        svc.create_job(job("Secure", src, "Vault"))
    finally:
        svc.close()
    stored_password(tmp_path / "data").write_text(PASSWORD + line_end)   # as an editor saves it
    svc = BackupService(tmp_path / "data")
    try:
        (vault,) = [r for r in svc.list_repositories() if r.name == "Vault"]
        assert vault.problem is None
        backup(svc, "Secure")
    finally:
        svc.close()


def test_a_stored_password_that_does_not_open_is_a_problem_until_the_right_one_is_set(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    src = make_tree(tmp_path / "pc1", files=2)
    data = tmp_path / "data"
    svc = BackupService(data)
    try:
        svc.add_repository(spec("Vault", tmp_path / "vault", PASSWORD))
        svc.create_job(job("Secure", src, "Vault"))
    finally:
        svc.close()
    stored_password(data).write_text("not the password")
    hint = ("The password the backup server keeps for the encrypted repository 'Vault' does "
            "not open it: set the right one with 'agent-jobs repository password Vault "
            "--password-file FILE'.")
    svc = BackupService(data)
    try:
        (vault,) = [r for r in svc.list_repositories() if r.name == "Vault"]
        assert vault.problem == hint
        with pytest.raises(ConsoleError) as caught:
            svc.start_job("Secure")
        assert str(caught.value) == hint
        with pytest.raises(ConsoleError, match="does not open backup repository 'Vault': "
                                               "nothing was changed"):
            svc.set_repository_password("Vault", SecretStr("still wrong"))
        assert stored_password(data).read_text() == "not the password"
        svc.set_repository_password("Vault", SecretStr(PASSWORD))
        assert stored_password(data).read_text() == PASSWORD
        assert stat.S_IMODE(stored_password(data).stat().st_mode) == 0o600
        (vault,) = [r for r in svc.list_repositories() if r.name == "Vault"]
        assert vault.problem is None
        backup(svc, "Secure")
        stored_password(data).unlink()                   # lost: named as missing
        (vault,) = [r for r in svc.list_repositories() if r.name == "Vault"]
        assert vault.problem is not None and vault.problem.startswith(
            "The backup server keeps no password for the encrypted repository 'Vault'")
        svc.set_repository_password("Vault", SecretStr(PASSWORD))
        svc.add_repository(spec("Plain", tmp_path / "plain"))
        with pytest.raises(InvalidInput, match="not encrypted"):
            svc.set_repository_password("Plain", SecretStr(PASSWORD))
    finally:
        svc.close()
    assert PASSWORD not in caplog.text


def test_key_passwd_replaces_the_servers_key_and_password(
        service: BackupService, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "pc1", files=2)
    service.add_repository(spec("Vault", tmp_path / "vault", PASSWORD))
    (old,) = service.list_repository_keys("Vault")
    service.create_job(job("Secure", src, "Vault"))
    backup(service, "Secure")
    new_id = service.change_repository_password("Vault", SecretStr(NEW_PASSWORD))
    assert [(k.id, k.current) for k in service.list_repository_keys("Vault")] == \
        [(new_id, True)] and new_id != old.id
    assert stored_password(service.data_dir).read_text() == NEW_PASSWORD
    with pytest.raises(ConsoleError, match="password does not open"):
        Repository.open(tmp_path / "vault", password=PASSWORD)
    Repository.open(tmp_path / "vault", password=NEW_PASSWORD).close()
    backup(service, "Secure")
    with pytest.raises(InvalidInput, match="empty"):
        service.change_repository_password("Vault", SecretStr(""))


# -- the REST API -------------------------------------------------------------------------
@pytest.fixture
def api(tmp_path: Path) -> Iterator[ServerClient]:
    runtime = start_server(tmp_path / "data")
    client = ServerClient(tmp_path / "data", autostart=False)
    try:
        yield client
    finally:
        client.close()
        stop_server(runtime)


def raw(data: Path) -> httpx.Client:
    transport = httpx.HTTPTransport(uds=unix_address(server_socket_path(data)))
    return httpx.Client(transport=transport, base_url="http://agent-jobs/api/v1", timeout=60)


def test_rest_adds_lists_tests_and_removes_repositories_without_echoing_secrets(
        api: ServerClient, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    src = make_tree(tmp_path / "pc1", files=3)
    answers: list[str] = []
    with raw(api.data_dir) as http:
        r = http.post("/repositories/test", json={"name": "", "url": str(tmp_path / "v"),
                                                  "password": PASSWORD})
        assert r.status_code == 200 and "new encrypted repository" in r.json()["result"]
        answers.append(r.text)
        r = http.post("/repositories", json={"name": "Vault", "url": str(tmp_path / "v"),
                                             "password": PASSWORD})
        assert r.status_code == 201, r.text
        answers.append(r.text)
        r = http.post("/repositories", json={"name": "Again", "url": str(tmp_path / "w"),
                                             "password": 12})
        assert r.status_code == 422 and r.json()["kind"] == "InvalidInput"
        answers.append(r.text)
        for path in ("/repositories", "/repositories/Vault/keys",
                     "http://agent-jobs/openapi.json"):
            r = http.get(path)
            assert r.status_code == 200
            answers.append(r.text)
        r = http.post("/repositories/Vault/keys", json={"password": OTHER_PASSWORD})
        assert r.status_code == 201
        answers.append(r.text)
        Repository.open(tmp_path / "elsewhere", create=True, password=PASSWORD).close()
        r = http.post("/repositories/test", json={"name": "", "password": "wrong " + PASSWORD,
                                                  "url": str(tmp_path / "elsewhere")})
        assert r.status_code == 400 and "password does not open" in r.json()["error"]
        answers.append(r.text)
    for text in answers:
        assert PASSWORD not in text and OTHER_PASSWORD not in text
    (vault,) = [r for r in api.list_repositories() if r.name == "Vault"]
    assert vault.encrypted and not vault.default
    api.create_job(job("Secure", src, "Vault"))
    session = api.wait_session(api.start_job("Secure"), 60)
    assert session.result is not None and session.result.value == "Success"
    (point,) = api.list_points("Secure")
    report = api.restore(point.id, tmp_path / "out")
    assert report.files == 3
    assert len(api.list_repository_keys("Vault")) == 2
    with pytest.raises(JobStateError, match="Secure"):
        api.remove_repository("Vault")
    assert api.test_computer(Computer(name="pc1", path=str(src)), job("x", src, "Vault").ssh)
    with pytest.raises(ConsoleError, match="does not exist"):
        api.test_computer(Computer(name="pc2", path=str(tmp_path / "gone")),
                          job("x", src, "Vault").ssh)
    assert "repository 'Vault' added" in caplog.text.replace('"', "'")
    assert PASSWORD not in caplog.text and OTHER_PASSWORD not in caplog.text


# -- S3 (a real SeaweedFS) ------------------------------------------------------------------
def s3_spec(name: str, url: str, seaweed, password: str | None = PASSWORD,  # noqa: F811
            **kw) -> RepositorySpec:
    return spec(name, url, password, access_key_id=seaweed.access_key,
                secret_access_key=SecretStr(seaweed.secret_key), **kw)


def test_s3_repositories_are_tested_added_listed_and_back_a_job_up(
        service: BackupService, tmp_path: Path, seaweed, s3_url: str) -> None:  # noqa: F811
    with pytest.raises(InvalidInput, match="--insecure-no-encryption"):
        service.add_repository(s3_spec("Cloud", s3_url, seaweed, None))
    assert service.test_repository(s3_spec("", s3_url, seaweed)) == \
        "Reachable; empty — a new encrypted repository will be created"
    wrong = spec("Cloud", s3_url, PASSWORD, access_key_id=seaweed.access_key,
                 secret_access_key=SecretStr("not-the-secret"))
    with pytest.raises(ConsoleError, match="secret access key is wrong|denied"):
        service.add_repository(wrong)
    assert [r.name for r in service.list_repositories()] == [DEFAULT_REPOSITORY]
    info = service.add_repository(s3_spec("Cloud", s3_url, seaweed))
    assert (info.kind, info.encrypted, info.problem) == ("s3", True, None)
    assert info.used_bytes and info.capacity_bytes is None
    keys_file = next((service.data_dir / "secrets").glob("*.s3"))
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert seaweed.secret_key not in repr(service.list_repositories())
    src = make_tree(tmp_path / "pc1", files=3, size=40_000)
    service.create_job(job("To S3", src, "Cloud"))
    backup(service, "To S3")
    (point,) = service.list_points("To S3")
    assert point.repository == "Cloud"
    service.restore(point.id, tmp_path / "out")
    assert (tmp_path / "out" / "file_002.dat").read_bytes() == (src / "file_002.dat").read_bytes()
    assert service.verify().ok
    opened = service._repository("Cloud")
    service.set_repository_s3_keys("Cloud", seaweed.access_key, SecretStr(seaweed.secret_key))
    assert service._repository("Cloud") is not opened     # new keys: opened again with them
    backup(service, "To S3")
    insecure = service.add_repository(s3_spec("Open", seaweed.url(seaweed.new_bucket()),
                                              seaweed, None, insecure_no_encryption=True))
    assert not insecure.encrypted


def test_s3_keys_are_replaced_once_they_work_and_wrong_ones_are_a_4xx_over_rest(
        api: ServerClient, seaweed, s3_url: str) -> None:  # noqa: F811
    api.add_repository(s3_spec("Cloud", s3_url, seaweed))
    keys_file = next((api.data_dir / "secrets").glob("*.s3"))
    before = keys_file.read_bytes()
    with raw(api.data_dir) as http:
        wrong = http.put("/repositories/Cloud/s3keys", json={
            "access_key_id": seaweed.access_key, "secret_access_key": "not-the-secret"})
        assert wrong.status_code == 400, wrong.text
        assert "secret access key is wrong" in wrong.json()["error"]
        added = http.post("/repositories", json={
            "name": "Other", "url": seaweed.url(seaweed.new_bucket()), "password": PASSWORD,
            "access_key_id": seaweed.access_key, "secret_access_key": "not-the-secret"})
        assert added.status_code == 400, added.text
        assert "not-the-secret" not in wrong.text + added.text
    assert keys_file.read_bytes() == before
    keys_file.unlink()   # as if the server had none: they can be given later
    with pytest.raises(ConsoleError, match="No S3 keys"):
        api.set_repository_password("Cloud", SecretStr(PASSWORD))
    api.set_repository_s3_keys("Cloud", seaweed.access_key, SecretStr(seaweed.secret_key))
    assert keys_file.exists() and stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    (cloud,) = [r for r in api.list_repositories() if r.name == "Cloud"]
    assert cloud.problem is None
    with pytest.raises(InvalidInput, match="local folder"):
        api.set_repository_s3_keys(DEFAULT_REPOSITORY, seaweed.access_key,
                                   SecretStr(seaweed.secret_key))


def test_an_unreachable_s3_repository_is_listed_with_its_problem_at_once(
        service: BackupService, seaweed, s3_url: str) -> None:  # noqa: F811
    host, port = seaweed.endpoint.rsplit("/", 1)[1].split(":")
    relay = TcpRelay((host, int(port)))
    service.add_repository(s3_spec("Far", relay_url(s3_url, relay), seaweed))
    assert next(r for r in service.list_repositories() if r.name == "Far").problem is None
    relay.cut()
    with pytest.raises(ConsoleError, match="Cannot reach the S3 server"):
        service.add_repository(s3_spec("Gone", f"s3:http://127.0.0.1:{relay.port}/other",
                                       seaweed))
    assert "Gone" not in [r.name for r in service.list_repositories()]
    started = time.monotonic()
    far = next(r for r in service.list_repositories() if r.name == "Far")
    assert time.monotonic() - started < 10
    assert far.problem and far.used_bytes is None


def test_a_job_failing_on_an_unreachable_s3_repository_says_so_in_one_sentence(
        service: BackupService, seaweed, s3_url: str, tmp_path: Path) -> None:  # noqa: F811
    host, port = seaweed.endpoint.rsplit("/", 1)[1].split(":")
    relay = TcpRelay((host, int(port)))
    service.add_repository(s3_spec("Far", relay_url(s3_url, relay), seaweed))
    service.create_job(job("Up", make_tree(tmp_path / "pc1", files=1), "Far"))
    relay.cut()
    session = service.wait_session(service.start_job("Up"), 120)
    assert session.result is not None and session.result.value == "Failed"
    texts = [line.text for line in session.log] + \
        [line.text for task in session.tasks for line in task.log]
    failure = [text for text in texts if "Cannot reach the S3 server" in text]
    assert failure and all(".." not in text for text in failure), failure
    assert all("and the network. Check" in text for text in failure), failure


def test_listing_repositories_opens_none_of_them(
        tmp_path: Path, seaweed, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Issue 21: immutable_days is the catalogue's (recorded when a repository
    is added), so listing N immutable S3 repositories after a restart opens
    none of them: Repository.open is counted, not timed."""
    svc = BackupService(tmp_path / "data")
    try:
        for n in range(3):
            svc.add_repository(s3_spec(f"Vault{n}", seaweed.url(seaweed.new_locked_bucket()),
                                       seaweed, None, insecure_no_encryption=True,
                                       immutable_days=5 + n))
    finally:
        svc.close()
    opens: list[object] = []
    real_open = Repository.open.__func__   # type: ignore[attr-defined]

    def counted(cls, location, **kw):   # the real open, counted
        opens.append(location)
        return real_open(cls, location, **kw)

    monkeypatch.setattr(Repository, "open", classmethod(counted))
    svc = BackupService(tmp_path / "data")
    try:
        opens.clear()
        for _ in range(2):
            listed = {r.name: r.immutable_days for r in svc.list_repositories()}
            assert listed == {DEFAULT_REPOSITORY: None, "Vault0": 5, "Vault1": 6, "Vault2": 7}
        assert opens == []
        svc._repository("Vault1")         # opened for work: its kept points show from then on
        assert len(opens) == 1
        assert {r.name: r.immutable_days for r in svc.list_repositories()}["Vault1"] == 6
        assert len(opens) == 1
    finally:
        svc.close()
