"""``agent-jobs audit [--since] [--user] [--json]`` and ``agent-jobs audit verify``:
the server's audit trail, who did what, and a check of its hash chain."""
from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from core.api.text import audit_details_text
from core.cli.connect import client
from core.cli.output import print_json, short, table
from core.errors import InvalidInput

_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``2026-12-01``, ``2026-12-01T08:00`` (local time unless it says otherwise), or a
    span back from now: ``30m``, ``24h``, ``7d``, ``2w``."""
    found = _RELATIVE.match(text.strip().lower())
    if found:
        span = timedelta(**{_UNITS[found[2]]: int(found[1])})
        return (now or datetime.now(timezone.utc)) - span
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"--since: {text!r} is not a time; give a date (2026-12-01), a "
                           "date and time (2026-12-01T08:00) or a span back from now "
                           "(30m, 24h, 7d, 2w).") from None
    return when if when.tzinfo else when.astimezone()


def run(args: argparse.Namespace, data_dir: Path) -> int:
    with client(data_dir) as api:
        if args.audit_command == "verify":
            check = api.verify_audit()
            if args.json:
                print_json(check.model_dump(mode="json"))
            elif check.intact:
                print(f"The audit trail is intact: {check.rows} rows, each chained to the one "
                      "before it.")
            else:
                print(f"The audit trail was tampered with: {check.problem}")
            return 0 if check.intact else 1
        since = parse_since(args.since) if args.since else None
        entries = api.list_audit(since, args.user, args.limit)
        if args.json:
            print_json([e.model_dump(mode="json") for e in entries])
            return 0
        if not entries:
            print("No audit entries" + (" match." if since or args.user else " yet."))
            return 0
        table(["When", "User", "From", "Action", "Target", "Result", "Details"],
              [[short(e.at), e.user, e.origin, e.action, e.target, e.result,
                audit_details_text(e.details)] for e in entries])
    return 0
