"""Fixtures of the backup copy job tests: repositories by name, a source job, and how to
read a whole tree back for byte-for-byte comparison."""
from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from core.api import RepositorySpec
from core.models import JobDefinition, SessionInfo
from core.service.facade import BackupService
from tests.support.seaweed import SeaweedS3


def add_local(service: BackupService, name: str, path: Path, password: str | None) -> None:
    service.add_repository(RepositorySpec(
        name=name, url=str(path), password=SecretStr(password) if password else None))


def add_s3(service: BackupService, seaweed: SeaweedS3, name: str, url: str,
           password: str | None) -> None:
    service.add_repository(RepositorySpec(
        name=name, url=url, password=SecretStr(password) if password else None,
        insecure_no_encryption=password is None, access_key_id=seaweed.access_key,
        secret_access_key=SecretStr(seaweed.secret_key)))


def copy_job(name: str, source: str, repository: str, **options: object) -> JobDefinition:
    return JobDefinition.model_validate({"name": name, "kind": "backup_copy",
                                         "copy_source": source, "repository": repository,
                                         **options})


def run(service: BackupService, job: str, timeout: float = 60) -> SessionInfo:
    return service.wait_session(service.start_job(job), timeout=timeout)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> content)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}
