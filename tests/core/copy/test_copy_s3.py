"""Backup copy jobs with the real S3 server (SeaweedFS): local → S3 and S3 → local, encrypted
with other keys; the copy restores byte-identical once the source repository is gone."""
from __future__ import annotations

import shutil

from core.models import SessionResult, SessionType
from tests.core.copy.conftest import add_local, add_s3, copy_job, run, tree
from tests.core.copy.test_copy_jobs import enrich, source_tree


def test_local_to_s3_encrypted_restores_after_the_source_is_gone(service, make_job, tmp_path,
                                                                  seaweed, s3_url):
    add_local(service, "Src", tmp_path / "src-repo", "source-password-1")
    add_s3(service, seaweed, "Cloud", s3_url, "cloud-password-2")
    make_job("Nightly", computers=2, repository="Src")
    enrich(source_tree(tmp_path, "Nightly", "pc1"))
    run(service, "Nightly")
    service.create_job(copy_job("Offsite", "Nightly", "Cloud"))
    first = run(service, "Offsite")
    assert first.type is SessionType.COPY and first.result is SessionResult.SUCCESS, first.log
    run(service, "Nightly")
    second = run(service, "Offsite")
    assert max(t.bytes_transferred for t in second.tasks) <= 4096
    shutil.rmtree(tmp_path / "src-repo")
    for point in service.list_points("Offsite"):
        assert point.repository == "Cloud"
        out = tmp_path / "out" / point.id
        service.restore(point.id, out)
        assert tree(out) == tree(source_tree(tmp_path, "Nightly", point.computer))


def test_s3_to_local_restores_after_the_bucket_is_emptied(service, make_job, tmp_path,
                                                          seaweed, s3_url):
    add_s3(service, seaweed, "Cloud", s3_url, None)   # a plain source, an encrypted target
    add_local(service, "Local", tmp_path / "local-repo", "local-password-3")
    make_job("Cloudy", computers=1, repository="Cloud")
    enrich(source_tree(tmp_path, "Cloudy", "pc1"))
    run(service, "Cloudy")
    service.create_job(copy_job("Back home", "Cloudy", "Local"))
    session = run(service, "Back home")
    assert session.result is SessionResult.SUCCESS, session.tasks[0].log
    bucket = s3_url.rstrip("/").rsplit("/", 1)[-1]
    s3 = seaweed.client()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
    (point,) = service.list_points("Back home")
    service.restore(point.id, tmp_path / "out")
    assert tree(tmp_path / "out") == tree(source_tree(tmp_path, "Cloudy", "pc1"))
