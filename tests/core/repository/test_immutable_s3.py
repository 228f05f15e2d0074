"""Immutable repositories on a real SeaweedFS with S3 Object Lock: every
object the repository needs is locked (COMPLIANCE), the server's own keys
cannot delete or replace a stored version, reads survive an "attacker" who
deletes and overwrites current versions, and prune only deletes what is no
longer locked."""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from core.errors import RepositoryError
from core.repository import Repository
from core.repository.backend.objectlock import PENDING, REWRITABLE
from core.repository.backend.s3 import S3Backend, parse_s3_url
from core.repository.immutability import SETTINGS
from tests.conftest import wait_until
from tests.core.repository.test_repository import BLOCK, backup, build_tree, snapshot
from tests.support.seaweed import SeaweedS3

PASSWORD = "immutable repository password"
FAST_KDF = {"n": 1024, "r": 8, "p": 1}
DAYS = 3


def open_s3(server: SeaweedS3, url: str) -> S3Backend:
    return S3Backend.from_url(url, server.access_key, server.secret_key, lease_seconds=5)


@pytest.fixture
def repo(seaweed: SeaweedS3, locked_s3_url: str) -> Iterator[Repository]:
    backend = open_s3(seaweed, locked_s3_url)
    with Repository.open(backend, create=True, password=PASSWORD, block_size=BLOCK,
                         pack_size=32 << 10, kdf=FAST_KDF, workers=2,
                         immutable_days=DAYS) as opened:
        yield opened
    backend.close()


def bucket_of(url: str) -> tuple[str, str]:
    _endpoint, bucket, prefix = parse_s3_url(url)
    return bucket, prefix


def all_versions(client: Any, bucket: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
        found += page.get("Versions") or []
    return found


def two_points(repo: Repository, tmp_path: Path) -> tuple[list[str], dict[str, dict[str, tuple]]]:
    src = build_tree(tmp_path / "src")
    (src / "more.bin").write_bytes(os.urandom(100 * 1024))       # several packs
    first, _, _ = backup(repo, src)
    trees = {first.id: snapshot(src)}
    (src / "docs" / "report.txt").write_text("changed\n" * 300)
    (src / "new.bin").write_bytes(os.urandom(60 * 1024))
    second, _, _ = backup(repo, src, parent=first.id)
    trees[second.id] = snapshot(src)
    return [first.id, second.id], trees


def test_seaweedfs_enforces_compliance_locks(seaweed: SeaweedS3) -> None:
    """The proof the rest stands on: SeaweedFS (pinned in .ci/constraints.txt)
    refuses to delete a locked version or shorten its lock, even for Admin."""
    client = seaweed.client()
    bucket = seaweed.new_locked_bucket()
    until = datetime.now(timezone.utc) + timedelta(days=1)
    version = client.put_object(Bucket=bucket, Key="k", Body=b"kept", ObjectLockMode="COMPLIANCE",
                                ObjectLockRetainUntilDate=until)["VersionId"]
    with pytest.raises(ClientError) as refused:
        client.delete_object(Bucket=bucket, Key="k", VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):
        client.delete_object(Bucket=bucket, Key="k", VersionId=version,
                             BypassGovernanceRetention=True)
    with pytest.raises(ClientError):
        client.put_object_retention(Bucket=bucket, Key="k", VersionId=version, Retention={
            "Mode": "COMPLIANCE", "RetainUntilDate": until - timedelta(hours=12)})
    assert client.get_object(Bucket=bucket, Key="k", VersionId=version)["Body"].read() == b"kept"


def test_every_object_the_repository_needs_is_locked(seaweed: SeaweedS3, locked_s3_url: str,
                                                     repo: Repository, tmp_path: Path) -> None:
    """Kopia bug #3253's regression: list every object and check each has a
    COMPLIANCE retention about N days ahead; only rewritable state is not."""
    two_points(repo, tmp_path)
    repo.forget([repo.point_ids()[0]])
    repo.prune()
    client = seaweed.client()
    bucket, _ = bucket_of(locked_s3_url)
    versions = all_versions(client, bucket)
    names = {v["Key"] for v in versions}
    assert {SETTINGS, "config.json", "config.sealed"} <= names
    assert any(n.startswith("keys/") for n in names)
    assert any(n.startswith("packs/") for n in names)
    assert any(n.startswith("index/") for n in names)
    assert any(n.startswith("points/") for n in names)
    soon = datetime.now(timezone.utc) + timedelta(days=DAYS - 1)
    unlocked = []
    for v in versions:
        head = client.head_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
        if v["Key"].startswith(REWRITABLE):
            continue
        if head.get("ObjectLockMode") != "COMPLIANCE" or \
                head["ObjectLockRetainUntilDate"] < soon:
            unlocked.append(v["Key"])
    assert unlocked == []
    assert PENDING in names            # the retired point's objects are listed there


def test_the_servers_own_keys_cannot_delete_or_replace_stored_versions(
        seaweed: SeaweedS3, locked_s3_url: str, repo: Repository, tmp_path: Path) -> None:
    two_points(repo, tmp_path)
    client = seaweed.client()         # the very keys the backup server holds
    bucket, _ = bucket_of(locked_s3_url)
    versions = all_versions(client, bucket)
    pack = next(v for v in versions if v["Key"].startswith("packs/"))
    with pytest.raises(ClientError) as refused:
        client.delete_object(Bucket=bucket, Key=pack["Key"], VersionId=pack["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    manifest = next(v for v in versions if v["Key"].startswith("points/"))
    original = client.get_object(Bucket=bucket, Key=manifest["Key"],
                                 VersionId=manifest["VersionId"])["Body"].read()
    client.put_object(Bucket=bucket, Key=manifest["Key"], Body=b"ransom note")
    with pytest.raises(ClientError):   # the overwrite made a new version; ours stays as it was
        client.delete_object(Bucket=bucket, Key=manifest["Key"], VersionId=manifest["VersionId"])
    assert client.get_object(Bucket=bucket, Key=manifest["Key"],
                             VersionId=manifest["VersionId"])["Body"].read() == original


def test_every_point_restores_after_an_attacker_deletes_and_overwrites(
        seaweed: SeaweedS3, locked_s3_url: str, repo: Repository, tmp_path: Path) -> None:
    ids, trees = two_points(repo, tmp_path)
    client = seaweed.client()
    bucket, _ = bucket_of(locked_s3_url)
    keys = sorted({v["Key"] for v in all_versions(client, bucket)})
    for n, key in enumerate(keys):
        if key.startswith(REWRITABLE) or key in ("config.json", "immutability.json"):
            continue
        if n % 2:
            client.delete_object(Bucket=bucket, Key=key)                 # a delete marker
        else:
            client.put_object(Bucket=bucket, Key=key, Body=b"encrypted by ransomware")
    assert len(list(client.list_objects_v2(Bucket=bucket).get("Contents", []))) < len(keys)
    with Repository.open(open_s3(seaweed, locked_s3_url), password=PASSWORD, workers=2) as again:
        assert again.immutable_days == DAYS
        assert sorted(p.id for p in again.list_points()) == sorted(ids)
        assert again.verify() == []
        for point_id in ids:
            out = tmp_path / f"out-{point_id}"
            again.restore(point_id, out)
            assert snapshot(out) == trees[point_id]


def test_prune_keeps_locked_data_until_the_lock_expires(
        seaweed: SeaweedS3, locked_s3_url: str, repo: Repository, tmp_path: Path) -> None:
    lock = repo.backend.object_lock   # type: ignore[attr-defined]
    lock.period = timedelta(seconds=4)   # a lock of seconds, to see one end
    ids, trees = two_points(repo, tmp_path)
    client = seaweed.client()
    bucket, _ = bucket_of(locked_s3_url)
    stored_before = len(all_versions(client, bucket))
    repo.forget([ids[0]])
    assert repo.point_ids() == [ids[1]]                 # it left the lists at once
    [kept] = repo.retained_points()
    assert (kept.id, kept.job, kept.computer) == (ids[0], "Job", "pc1")
    report = repo.prune()
    assert report.locked_kept > 0 and report.locked_deleted == 0
    assert len(all_versions(client, bucket)) >= stored_before   # nothing deleted yet
    extended_until = datetime.now(timezone.utc) + lock.period * 0.5

    def purged() -> bool:
        return repo.prune().locked_kept == 0

    wait_until(purged, timeout=20)
    assert repo.retained_points() == []
    left = {v["Key"] for v in all_versions(client, bucket)}
    assert f"points/{ids[0]}.json.zst" not in left
    for v in all_versions(client, bucket):   # prune pushed ahead the locks still in use
        if v["Key"].startswith(REWRITABLE):
            continue
        head = client.head_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
        assert head["ObjectLockRetainUntilDate"] > extended_until, v["Key"]
    out = tmp_path / "out"
    repo.restore(ids[1], out)
    assert snapshot(out) == trees[ids[1]]


def test_a_bucket_without_object_lock_is_refused_with_how_to_make_one(
        seaweed: SeaweedS3, s3_url: str) -> None:
    with pytest.raises(RepositoryError) as refused:
        Repository.open(open_s3(seaweed, s3_url), create=True, password=PASSWORD,
                        kdf=FAST_KDF, immutable_days=DAYS)
    message = str(refused.value)
    assert "does not have Object Lock enabled" in message
    bucket, _ = bucket_of(s3_url)
    assert list(seaweed.client().list_objects_v2(Bucket=bucket).get("Contents", [])) == []
    # the command the message gives works on this very server
    command = message.split("`")[1].replace("NEW-BUCKET", "made-as-told")
    aws = shutil.which("aws")
    if aws is not None:
        env = dict(os.environ, AWS_ACCESS_KEY_ID=seaweed.access_key,
                   AWS_SECRET_ACCESS_KEY=seaweed.secret_key, AWS_DEFAULT_REGION="us-east-1")
        subprocess.run([aws, *command.split()[1:]], check=True, env=env, timeout=60,
                       capture_output=True)
    else:   # the same request the command makes
        assert "--object-lock-enabled-for-bucket" in command
        seaweed.client().create_bucket(Bucket="made-as-told", ObjectLockEnabledForBucket=True)
    made = seaweed.url("made-as-told")
    with Repository.open(open_s3(seaweed, made), create=True, password=PASSWORD,
                         kdf=FAST_KDF, immutable_days=DAYS) as created:
        assert created.immutable_days == DAYS


def test_a_local_folder_cannot_be_immutable(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError, match="Immutability needs object storage"):
        Repository.open(tmp_path / "repo", create=True, immutable_days=DAYS)
    assert not (tmp_path / "repo" / "config.json").exists()


def locked_overwrite(client: Any, bucket: str, key: str, body: bytes) -> None:
    """What an attacker holding the server's keys can do: a new version of a
    name, with a COMPLIANCE lock of their own, so it is the current, locked one."""
    client.put_object(Bucket=bucket, Key=key, Body=body, ObjectLockMode="COMPLIANCE",
                      ObjectLockRetainUntilDate=datetime.now(timezone.utc) + timedelta(days=1))


def test_locked_garbage_over_a_pack_and_a_manifest_falls_back_to_our_version(
        seaweed: SeaweedS3, locked_s3_url: str, repo: Repository, tmp_path: Path) -> None:
    """Issue 21: the newest locked version is not trusted blindly. A pack and
    a manifest overwritten with the attacker's own locked versions fail their
    checks; the older locked versions (ours) are read instead, every point
    restores byte-identical and verify reports the rejected versions."""
    ids, trees = two_points(repo, tmp_path)
    client = seaweed.client()
    bucket, _ = bucket_of(locked_s3_url)
    keys = sorted({v["Key"] for v in all_versions(client, bucket)})
    pack = next(k for k in keys if k.startswith("packs/"))
    manifest = f"points/{ids[0]}.json.zst"
    original = client.get_object(Bucket=bucket, Key=pack)["Body"].read()
    locked_overwrite(client, bucket, pack, os.urandom(len(original) // 2))   # shorter too
    locked_overwrite(client, bucket, manifest, b"encrypted by ransomware")
    assert client.head_object(Bucket=bucket, Key=pack)["ObjectLockMode"] == "COMPLIANCE"
    with Repository.open(open_s3(seaweed, locked_s3_url), password=PASSWORD, workers=2) as again:
        assert sorted(p.id for p in again.list_points()) == sorted(ids)
        # the light check sizes objects: the listing gives our locked version's size
        assert [p for p in again.verify(ids, light=True) if p.point_id] == []
        for point_id in ids:
            out = tmp_path / f"out-{point_id}"
            again.restore(point_id, out)
            assert snapshot(out) == trees[point_id]
        problems = again.verify(full=True)
        rejected = sorted(p.detail for p in problems if p.problem == "newer version rejected")
        assert len(rejected) == 2, problems
        assert pack in rejected[0] + rejected[1] and manifest in rejected[0] + rejected[1]
        assert all(p.point_id == "" for p in problems)       # no point is damaged
    # a later process knows it too: the damage report is stored
    with Repository.open(open_s3(seaweed, locked_s3_url), password=PASSWORD, workers=2) as later:
        assert len([p for p in later.verify() if p.problem == "newer version rejected"]) == 2


def test_locked_garbage_over_the_index_keys_and_config_falls_back_too(
        seaweed: SeaweedS3, locked_s3_url: str, repo: Repository, tmp_path: Path) -> None:
    ids, trees = two_points(repo, tmp_path)
    client = seaweed.client()
    bucket, _ = bucket_of(locked_s3_url)
    keys = sorted({v["Key"] for v in all_versions(client, bucket)})
    index = [k for k in keys if k.startswith("index/")]
    key = next(k for k in keys if k.startswith("keys/"))
    config = client.get_object(Bucket=bucket, Key="config.json")["Body"].read()
    for name in index:
        locked_overwrite(client, bucket, name, os.urandom(200))
    locked_overwrite(client, bucket, key, client.get_object(Bucket=bucket, Key=key)["Body"]
                     .read().replace(b'"salt": "', b'"salt": "AAAA'))
    locked_overwrite(client, bucket, "config.sealed", os.urandom(120))
    locked_overwrite(client, bucket, "config.json", config.replace(b'"block_size"', b'"bl'))
    with Repository.open(open_s3(seaweed, locked_s3_url), password=PASSWORD, workers=2) as again:
        for point_id in ids:
            out = tmp_path / f"out-{point_id}"
            again.restore(point_id, out)
            assert snapshot(out) == trees[point_id]
        problems = again.verify()
        rejected = {p.detail.split(": a newer version")[0].rsplit("/", 2)[-1]
                    for p in problems if p.problem == "newer version rejected"}
        names = {n.rsplit("/", 2)[-1] for n in [*index, key]}
        assert rejected == names | {"config.sealed", "config.json"}, problems
        assert [p for p in problems if p.problem != "newer version rejected"] == []
