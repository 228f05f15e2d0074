"""Issue 21 through the CLI and a real server process, on a real SeaweedFS: an
attacker holding the server's S3 keys writes their own COMPLIANCE-locked
versions over a pack and a manifest. Reads reject them for our older locked
versions: every point restores byte-identical and verify names both objects."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import make_tree
from tests.e2e.test_repository_cli import NO_KEYS, PASSWORD, Server, ok, run
from tests.reliability.helpers import agent_jobs
from core.repository.backend.s3 import parse_s3_url
from tests.support.seaweed import SeaweedS3

pytestmark = pytest.mark.timeout(300)


def test_locked_garbage_is_rejected_and_reported_through_the_cli(
        tmp_path: Path, seaweed: SeaweedS3, locked_s3_url: str) -> None:
    data = tmp_path / "data"
    shell = {"AWS_ACCESS_KEY_ID": seaweed.access_key,
             "AWS_SECRET_ACCESS_KEY": seaweed.secret_key}
    password_file = tmp_path / "vault.pw"
    password_file.write_text(PASSWORD)
    src = make_tree(tmp_path / "pc1", files=4, size=30_000)
    server = Server(data, env=NO_KEYS)
    try:
        said = agent_jobs(data, "repository", "add", "Vault", "--url", locked_s3_url,
                          "--password-file", str(password_file), "--immutable-days", "3",
                          env=shell)
        assert said.returncode == 0, said.stderr
        ok(data, "job", "create", "Ledger", "--computer", f"pc1={src}", "--repository",
           "Vault")
        trees = {}
        for round_ in range(2):
            (src / f"new-{round_}.bin").write_bytes(os.urandom(40_000))
            assert "Success" in ok(data, "start", "Ledger", "--wait")
            newest = json.loads(ok(data, "points", "Ledger", "--json"))[-1]["id"]
            trees[newest] = {p.name: p.read_bytes() for p in src.iterdir()}
        assert len(trees) == 2

        client = seaweed.client()
        bucket = parse_s3_url(locked_s3_url)[1]
        names = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
        pack = next(n for n in names if n.startswith("packs/"))
        manifest = f"points/{next(iter(trees))}.json.zst"
        until = datetime.now(timezone.utc) + timedelta(days=1)
        for name in (pack, manifest):
            client.put_object(Bucket=bucket, Key=name, Body=os.urandom(3000),
                              ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)

        for point_id, tree in trees.items():
            out = tmp_path / f"out-{point_id}"
            ok(data, "restore", point_id, str(out))
            assert {p.name: p.read_bytes() for p in out.iterdir()} == tree
        verified = run(data, "verify")
        assert verified.returncode != 0, verified.stdout
        said = verified.stdout + verified.stderr
        assert f"{pack}: a newer version" in said and f"{manifest}: a newer version" in said
        assert "is read instead and is intact" in said and "Traceback" not in said
    finally:
        server.stop()
