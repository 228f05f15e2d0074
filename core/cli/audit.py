"""``agent-jobs audit [--since] [--user] [--json]`` and ``agent-jobs audit verify``:
the server's audit trail, who did what, and a check of its hash chain."""
from __future__ import annotations

import argparse
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

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


def _details(details: dict[str, object]) -> str:
    shown = {k: v for k, v in details.items() if k not in ("before", "after")}
    changed = ""
    before, after = details.get("before"), details.get("after")
    if isinstance(before, dict) and isinstance(after, dict):
        keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        changed = "changed: " + ", ".join(keys) if keys else "no change"
    text = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v}"
                     for k, v in shown.items())
    return "; ".join(t for t in (text, changed) if t)


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
                _details(e.details)] for e in entries])
    return 0
