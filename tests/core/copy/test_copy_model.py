"""The backup copy job's definition: a source, no computers of its own."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.models import Computer, CopyJobRequest, JobDefinition, JobInfo, JobStatus


def test_copy_job_has_a_source_and_no_computers() -> None:
    d = JobDefinition(name="Offsite", kind="backup_copy", copy_source="Nightly",
                      repository="S3")
    assert d.is_copy and d.computers == () and d.copy_source == "Nightly"
    assert JobInfo(definition=d, status=JobStatus.IDLE).type_label == "Backup Copy"
    again = JobDefinition.model_validate_json(d.model_dump_json())
    assert again == d


@pytest.mark.parametrize("fields, words", [
    ({"kind": "backup_copy"}, "needs a source job"),
    ({"kind": "backup_copy", "copy_source": "N",
      "computers": [{"name": "pc1", "path": "/srv"}]}, "no computers of its own"),
    ({"kind": "backup_copy", "copy_source": "Offsite"}, "cannot copy itself"),
    ({"kind": "backup_copy", "copy_source": "N", "scope": {"exclude": ["*.tmp"]}},
     "whole restore points"),
    ({"kind": "backup_copy", "copy_source": "a/b"}, "invalid source job name"),
    ({"copy_source": "N", "computers": [{"name": "pc1", "path": "/srv"}]},
     "only a backup copy job has a source"),
    ({}, "at least one computer"),
    ({"kind": "restore", "computers": [{"name": "pc1", "path": "/srv"}]}, "backup_copy"),
])
def test_bad_copy_definitions_are_refused(fields: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        JobDefinition.model_validate({"name": "Offsite", **fields})


def test_backup_job_unchanged() -> None:
    d = JobDefinition(name="Nightly", computers=(Computer(name="pc1", path="/srv"),))
    assert d.kind == "backup" and d.copy_source is None and not d.is_copy


def test_copy_request_builds_the_definition() -> None:
    d = CopyJobRequest(name="Offsite", source="Nightly", repository="S3",
                       retain_points=3).definition()
    assert (d.kind, d.copy_source, d.repository, d.retain_points) == \
        ("backup_copy", "Nightly", "S3", 3)
