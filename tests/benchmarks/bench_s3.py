#!/usr/bin/env python3
"""On-demand benchmark: the benchmark data set backed up to the data
directory's local repository against an encrypted S3 repository on a real
SeaweedFS on loopback, and restic on the same S3 server, in one run.

    .venv/bin/python tests/benchmarks/bench_s3.py [--size-mb 200] [--workdir DIR] [--keep]

Prints ONE JSON object on stdout (progress on stderr). Each of ours runs in
its own backup server process (``agent-jobs server run``), driven over its
socket as the console does: ``full``, ``unchanged`` and ``restore`` (of the
latest point into a new folder), with seconds, the server's CPU seconds and
its peak RSS. restic (if installed: ``apt-get install restic``) runs
``init``, ``backup`` twice and ``restore latest`` against its own bucket on
the same SeaweedFS. Ratios: ``s3_over_local`` (what the network path and the
object store cost ours) and ``restic_over_ours_s3`` (> 1: ours is faster).
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
from tests.benchmarks.bench_backup import generate, plan_dataset  # noqa: E402
from tests.benchmarks.bench_ssh import Server, log  # noqa: E402
from tests.support.seaweed import SeaweedS3, start_seaweed  # noqa: E402

PASSWORD = "benchmark password"


def server_env(data_dir: Path, seaweed: SeaweedS3) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "AGENT_CONSOLE_DATA_DIR": str(data_dir),
            "AWS_ACCESS_KEY_ID": seaweed.access_key,
            "AWS_SECRET_ACCESS_KEY": seaweed.secret_key}


def restore_seconds(server: Server, job: str, target: Path) -> float:
    (point,) = server.api.list_points(job)[-1:]
    t0 = time.perf_counter()
    session = server.api.wait_session(server.api.start_restore(point.id, target))
    seconds = time.perf_counter() - t0
    if session.result is None or session.result.value != "Success":
        raise RuntimeError(f"restore of {job} ended {session.result}")
    return round(seconds, 3)


def measure_ours(base: Path, src: Path, seaweed: SeaweedS3, kind: str) -> dict[str, Any]:
    data_dir = base / f"data-{kind}"
    data_dir.mkdir(parents=True)
    server = Server(data_dir, server_env(data_dir, seaweed))
    try:
        repository = "Default Backup Repository"
        if kind == "s3":
            repository = "S3"
            server.api.add_repository(RepositorySpec(
                name=repository, url=seaweed.url(seaweed.new_bucket()),
                password=SecretStr(PASSWORD)))
        server.api.create_job(JobDefinition(
            name=kind, computers=(Computer(name="pc1", path=str(src)),), task_slots=1,
            repository=repository))
        out: dict[str, Any] = {}
        for step in ("full", "unchanged"):
            log(f"ours {kind}: {step}")
            out[step] = server.run(kind)
        log(f"ours {kind}: restore")
        out["restore"] = {"seconds": restore_seconds(server, kind, base / f"restored-{kind}")}
        return out
    finally:
        server.close()


def measure_restic(base: Path, src: Path, seaweed: SeaweedS3) -> dict[str, Any] | None:
    restic = shutil.which("restic")
    if restic is None:
        return None
    env = {**os.environ, "AWS_ACCESS_KEY_ID": seaweed.access_key,
           "AWS_SECRET_ACCESS_KEY": seaweed.secret_key, "RESTIC_PASSWORD": PASSWORD,
           "RESTIC_CACHE_DIR": str(base / "restic-cache"),
           "RESTIC_REPOSITORY": seaweed.url(seaweed.new_bucket())}

    def timed(*args: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([restic, "--quiet", *args], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        return round(time.perf_counter() - t0, 3)

    timed("init")
    out = {}
    for step in ("full", "unchanged"):
        log(f"restic s3: {step}")
        out[step] = {"seconds": timed("backup", str(src))}
    log("restic s3: restore")
    out["restore"] = {"seconds": timed("restore", "latest", "--target",
                                       str(base / "restored-restic"))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=float, default=200)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-s3-", dir=args.workdir))
    log("starting SeaweedFS")
    seaweed = start_seaweed()
    try:
        src = base / "src"
        log(f"generating the data set ({args.size_mb} MB) in {src}")
        files, total, fingerprint = generate(src, plan_dataset(args.size_mb))
        result: dict[str, Any] = {
            "dataset": {"files": files, "bytes": total, "fingerprint": fingerprint},
            "cpus": os.cpu_count(), "load_start": [round(x, 2) for x in os.getloadavg()],
            "settings": "ours: S3 repository encrypted (AES-256-GCM); local repository "
                        "unencrypted; restic: S3, encrypted (always)"}
        result["local"] = measure_ours(base, src, seaweed, "local")
        result["s3"] = measure_ours(base, src, seaweed, "s3")
        result["restic_s3"] = measure_restic(base, src, seaweed)
        steps = ("full", "unchanged", "restore")
        result["s3_over_local"] = {
            s: round(result["s3"][s]["seconds"] / result["local"][s]["seconds"], 2)
            for s in steps}
        if result["restic_s3"] is not None:
            result["restic_over_ours_s3"] = {
                s: round(result["restic_s3"][s]["seconds"] / result["s3"][s]["seconds"], 2)
                for s in steps}
        result["load_end"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(result, indent=2))
    finally:
        seaweed.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
