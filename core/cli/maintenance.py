"""``agent-jobs maintenance ...``: the server-wide maintenance window."""
from __future__ import annotations

import argparse
from pathlib import Path

from core.cli.connect import client
from core.cli.output import print_json
from core.errors import InvalidInput
from core.models import MaintenanceSettings
from core.scheduling import ALL_DAYS, BackupWindow, parse_days, parse_window


def run(args: argparse.Namespace, data_dir: Path) -> int:
    with client(data_dir) as api:
        if args.maintenance_command == "set":
            if not args.window:
                raise InvalidInput("--window needs a time range HH:MM-HH:MM, e.g. "
                                   "--window 01:00-05:00.")
            try:
                start, end = parse_window(args.window)
                days = parse_days(args.days) if args.days is not None else ALL_DAYS
            except ValueError as exc:
                option = "--days" if args.days is not None and "day" in str(exc) else "--window"
                raise InvalidInput(f"{option}: " + str(exc).replace(
                    "the backup window", "the maintenance window")) from None
            settings = api.set_maintenance(MaintenanceSettings(
                window=BackupWindow(start=start, end=end, days=days)))
            print(f"{settings.describe()}: prune and compaction run there, as a Maintenance "
                  "session; backups no longer prune after retention.")
        elif args.maintenance_command == "clear":
            api.set_maintenance(MaintenanceSettings())
            print("Maintenance window removed: backups reclaim space at their end again.")
        else:
            settings = api.get_maintenance()
            if args.json:
                print_json(settings.model_dump(mode="json"))
            else:
                print(settings.describe())
    return 0
