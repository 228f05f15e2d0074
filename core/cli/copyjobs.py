"""``agent-jobs copy create``: backup copy jobs (changed with ``job set``, run with
``start``, their points listed with ``points NAME``)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.cli.connect import client
from core.cli.jobs import _schedule
from core.models import CopyJobRequest


def run(args: argparse.Namespace, data_dir: Path) -> int:
    if args.copy_command == "create":
        gfs: dict[str, Any] = {}
        for kind in ("daily", "weekly", "monthly", "yearly"):
            value = getattr(args, f"keep_{kind}")
            if value is not None:
                gfs[f"keep_{kind}"] = value
        fields: dict[str, Any] = {
            "name": args.name, "source": args.source, "repository": args.repository,
            "description": args.description, "task_slots": args.tasks,
            "retain_points": args.retain, "gfs": gfs,
            "throttle_mbps": args.throttle or None, "schedule": _schedule(args, None)}
        definition = CopyJobRequest.model_validate(fields).definition()
        with client(data_dir) as api:
            api.create_job(definition)
            created = api.get_job(definition.name).definition
        print(f"Created backup copy job '{created.name}': copies the restore points of job "
              f"'{created.copy_source}' into repository {created.repository}."
              + (f" Schedule: {created.schedule.describe()}." if created.schedule
                 else " Not scheduled: run it with 'agent-jobs start'."))
    return 0
