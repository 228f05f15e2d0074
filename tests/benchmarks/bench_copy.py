#!/usr/bin/env python3
"""On-demand benchmark: a backup copy job of the benchmark data set from a local
repository to an encrypted S3 repository on a real SeaweedFS on loopback, against
``restic copy`` between the same kinds of repositories.

    .venv/bin/python tests/benchmarks/bench_copy.py [--size-mb 200] [--workdir DIR] [--keep]

Prints ONE JSON object on stdout (progress on stderr). Ours runs in its own backup server
process (``agent-jobs server run``), driven over its socket as the console does: a backup
job to the data directory's local repository, then a copy job to S3: ``first`` (the first
copy), ``unchanged`` (the source backed up again with nothing changed, then copied) and
``changed`` (1 % of the files changed, backed up, copied). restic (if installed) does the
same with a local repository and ``restic copy --from-repo`` into an S3 repository
initialised with ``--copy-chunker-params``. Per step: seconds, and bytes sent — the growth
of the target bucket (every object, listed on the S3 server), the same measure for both
tools — plus ours' own counters (bytes read from the source, bytes sent).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402

from core.api import RepositorySpec  # noqa: E402
from core.models import Computer, JobDefinition  # noqa: E402
from tests.benchmarks.bench_backup import generate, modification_plan, modify, plan_dataset  # noqa: E402
from tests.benchmarks.bench_s3 import server_env  # noqa: E402
from tests.benchmarks.bench_ssh import Server, log  # noqa: E402
from tests.support.seaweed import SeaweedS3, start_seaweed  # noqa: E402

PASSWORD = "benchmark password"
STEPS = ("first", "unchanged", "changed")


def bucket_bytes(seaweed: SeaweedS3, bucket: str) -> int:
    total = 0
    for page in seaweed.client().get_paginator("list_objects_v2").paginate(Bucket=bucket):
        total += sum(o["Size"] for o in page.get("Contents", []))
    return total


def copy_step(server: Server, seaweed: SeaweedS3, bucket: str) -> dict[str, Any]:
    before = bucket_bytes(seaweed, bucket)
    t0 = time.perf_counter()
    session = server.api.wait_session(server.api.start_job("offsite"))
    seconds = time.perf_counter() - t0
    if session.result is None or session.result.value != "Success":
        raise RuntimeError(f"copy ended {session.result}: {[i.text for i in session.log]}")
    return {"seconds": round(seconds, 3),
            "bucket_growth_bytes": bucket_bytes(seaweed, bucket) - before,
            "bytes_read": sum(t.bytes_read for t in session.tasks),
            "bytes_sent": sum(t.bytes_transferred for t in session.tasks),
            "points_copied": sum(t.points_copied for t in session.tasks)}


def measure_ours(base: Path, src: Path, seaweed: SeaweedS3, changed: list[Any]
                 ) -> dict[str, Any]:
    data_dir = base / "data-ours"
    data_dir.mkdir(parents=True)
    server = Server(data_dir, server_env(data_dir, seaweed))
    bucket = seaweed.new_bucket()
    try:
        server.api.add_repository(RepositorySpec(name="S3", url=seaweed.url(bucket),
                                                 password=SecretStr(PASSWORD)))
        server.api.create_job(JobDefinition(
            name="nightly", computers=(Computer(name="pc1", path=str(src)),), task_slots=1))
        server.api.create_job(JobDefinition(
            name="offsite", kind="backup_copy", copy_source="nightly", repository="S3",
            task_slots=1))
        out: dict[str, Any] = {}
        for step in STEPS:
            if step == "changed":
                modify(src, changed, 0)
            log(f"ours: backup before '{step}'")
            out.setdefault("source_backups", {})[step] = server.run("nightly")["seconds"]
            log(f"ours: copy '{step}'")
            out[step] = copy_step(server, seaweed, bucket)
        return out
    finally:
        server.close()


def measure_restic(base: Path, src: Path, seaweed: SeaweedS3, changed: list[Any]
                   ) -> dict[str, Any] | None:
    restic = shutil.which("restic")
    if restic is None:
        return None
    bucket = seaweed.new_bucket()
    pw = base / "restic.pw"
    pw.write_text(PASSWORD)
    local = str(base / "restic-local")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": seaweed.access_key,
           "AWS_SECRET_ACCESS_KEY": seaweed.secret_key, "RESTIC_PASSWORD": PASSWORD,
           "RESTIC_CACHE_DIR": str(base / "restic-cache")}
    target = ["-r", seaweed.url(bucket)]

    def timed(*args: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([restic, "--quiet", *args], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        return round(time.perf_counter() - t0, 3)

    timed("-r", local, "init")
    timed(*target, "init", "--from-repo", local, "--from-password-file", str(pw),
          "--copy-chunker-params")
    out: dict[str, Any] = {}
    for step in STEPS:
        if step == "changed":
            modify(src, changed, 0)
        log(f"restic: backup before '{step}'")
        out.setdefault("source_backups", {})[step] = timed("-r", local, "backup", str(src))
        log(f"restic: copy '{step}'")
        before = bucket_bytes(seaweed, bucket)
        seconds = timed(*target, "copy", "--from-repo", local, "--from-password-file", str(pw))
        out[step] = {"seconds": seconds,
                     "bucket_growth_bytes": bucket_bytes(seaweed, bucket) - before}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=float, default=200)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-copy-", dir=args.workdir))
    log("starting SeaweedFS")
    seaweed = start_seaweed()
    try:
        specs = plan_dataset(args.size_mb)
        changed = modification_plan(specs, 0.01)
        result: dict[str, Any] = {
            "cpus": os.cpu_count(), "load_start": [round(x, 2) for x in os.getloadavg()],
            "settings": "source: a local repository (ours: the data directory's, unencrypted; "
                        "restic: encrypted, always); target: an encrypted S3 repository on "
                        "SeaweedFS over loopback; 'changed': 1 % of the files changed "
                        "(bench_backup's modification plan)"}
        for tool in ("ours", "restic"):
            src = base / f"src-{tool}"
            log(f"generating the data set ({args.size_mb} MB) in {src}")
            files, total, fingerprint = generate(src, specs)
            result["dataset"] = {"files": files, "bytes": total, "fingerprint": fingerprint}
            result[tool] = (measure_ours if tool == "ours" else measure_restic)(
                base, src, seaweed, changed)
        if result["restic"] is not None:
            result["restic_over_ours"] = {
                s: round(result["restic"][s]["seconds"] / result["ours"][s]["seconds"], 2)
                for s in STEPS}
        result["load_end"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(result, indent=2))
    finally:
        seaweed.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
