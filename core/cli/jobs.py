"""``agent-jobs job ...`` and ``demo``."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.api import RetentionPreview, clone_note, describe_settings, job_summary
from core.errors import InvalidInput
from core.models import (
    ActiveFullKind, ActiveFullSchedule, Computer, FileScope, HealthCheckMode,
    HealthCheckSchedule, JobDefinition, JobNotify, NotifyOn, SshSettings,
)
from core.scheduling import BackupWindow, Schedule, ScheduleKind, parse_days, parse_duration_minutes
from core.scheduling import parse_hhmm, parse_window
from core.cli.connect import client
from core.cli.output import print_json, short, table


def demo(args: argparse.Namespace, data_dir: Path) -> int:
    with client(data_dir) as api:
        created = api.setup_demo()
    print(f"Demo ready in {data_dir}: " +
          (f"created {', '.join(created)}" if created else "already set up"))
    return 0


def run(args: argparse.Namespace, data_dir: Path) -> int:
    with client(data_dir) as api:
        sub = args.job_command
        if sub == "create":
            definition = JobDefinition.model_validate(_settings(args, {"name": args.name}))
            api.create_job(definition)
            print(f"Created job '{definition.name}' with {len(definition.computers)} "
                  "computer(s)." + (f" Schedule: {definition.schedule.describe()}."
                                    if definition.schedule else ""))
        elif sub == "set":
            current = api.get_job(args.name).definition
            base = current.model_dump()
            if args.new_name:
                base["name"] = args.new_name
            definition = JobDefinition.model_validate(_settings(args, base))
            api.update_job(current.name, definition)
            print(f"Job '{definition.name}' updated." +
                  (f" Schedule: {definition.schedule.describe()}." if definition.schedule
                   else " Not scheduled."))
        elif sub == "list":
            listed = api.list_jobs()
            if args.json:
                print_json([job_summary(j) for j in listed])
            else:
                table(["Name", "Objects", "Status", "Last Run", "Last Result", "Next Run"],
                      [[j.name, f"copy of {j.definition.copy_source}" if j.definition.is_copy
                        else len(j.definition.computers),
                        f"{j.status.value} {j.progress}%" if j.status.value == "Working"
                        else j.status.value, short(j.last_run),
                        j.last_result.value if j.last_result else "",
                        short(j.next_run) if j.next_run else "<not scheduled>"]
                       for j in listed])
        elif sub == "retention-preview":
            _retention_preview(api.retention_preview(args.name), args.json)
        elif sub == "show":
            _show(api.get_job(args.name), args.json)
        elif sub == "delete":
            api.delete_job(args.name, delete_backups=args.delete_backups)
            print(f"Deleted job '{args.name}'" +
                  (" and its backups." if args.delete_backups else "."))
        elif sub == "clone":
            copy = api.clone_job(args.name, args.new_name)
            if args.json:
                print_json(job_summary(copy))
            else:
                print(clone_note(args.name, copy.name) +
                      f" Run 'agent-jobs job enable \"{copy.name}\"' to enable it.")
        elif sub in ("enable", "disable"):
            api.set_job_enabled(args.name, sub == "enable")
            print(f"Job '{args.name}' {sub}d.")
    return 0


def _settings(args: argparse.Namespace, base: dict[str, Any]) -> dict[str, Any]:
    """The job's settings: ``base`` with every option given on the command line."""
    settings = dict(base)
    if args.computer:
        settings["computers"] = [_computer(spec) for spec in args.computer]
    for option, field in (("description", "description"), ("tasks", "task_slots"),
                          ("retain", "retain_points")):
        value = getattr(args, option)
        if value is not None:
            settings[field] = value
    gfs = dict(settings.get("gfs") or {})
    for kind in ("daily", "weekly", "monthly", "yearly"):
        value = getattr(args, f"keep_{kind}", None)
        if value is not None:
            gfs[f"keep_{kind}"] = value
    settings["gfs"] = gfs
    if args.throttle is not None:
        settings["throttle_mbps"] = args.throttle or None
    if args.yield_to_production is not None:
        settings["yield_to_production"] = args.yield_to_production
    if args.pressure_threshold is not None:
        settings["pressure_threshold"] = args.pressure_threshold
    if args.repository is not None:
        settings["repository"] = args.repository
    if getattr(args, "source", None) is not None:
        settings["copy_source"] = args.source
    settings["ssh"] = _ssh(args, settings.get("ssh"))
    scope = dict(settings.get("scope") or {})
    for option in ("include", "exclude"):
        value = getattr(args, option, None)
        if value is not None:
            scope[option] = tuple(value)
    if args.entire_computer:
        scope["include"] = ()
    if args.no_exclude:
        scope["exclude"] = ()
    settings["scope"] = FileScope.model_validate(scope)
    settings["active_full"] = _active_full(args, settings.get("active_full"))
    settings["health_check"] = _health_check(args, settings.get("health_check"))
    settings["schedule"] = _schedule(args, settings.get("schedule"))
    settings["notify"] = _notify(args, settings.get("notify"))
    return settings


def _notify(args: argparse.Namespace, current: Any) -> Any:
    """The job's notification settings: ``current`` with --notify-on,
    --notify-last-retry-only, --notify-to and --rpo applied."""
    fields: dict[str, Any] = {}
    if current is not None:
        fields = current.model_dump() if isinstance(current, JobNotify) else dict(current)
    if args.notify_on is not None:
        words = [w.strip().lower() for w in args.notify_on.split(",") if w.strip()]
        if words == ["none"]:
            fields["on"] = ()
        else:
            aliases = {"failed": "failure", "fail": "failure", "warnings": "warning",
                       "succeeded": "success"}
            known = {r.value for r in NotifyOn}
            wrong = [w for w in words if aliases.get(w, w) not in known]
            if wrong or not words:
                raise InvalidInput(f"--notify-on '{args.notify_on}': say failure, warning, "
                                   "success (comma-separated), or none.")
            fields["on"] = tuple(NotifyOn(aliases.get(w, w)) for w in words)
    if args.notify_last_retry_only is not None:
        fields["last_retry_only"] = args.notify_last_retry_only
    if args.notify_to is not None:
        fields["to"] = tuple(a.strip() for v in args.notify_to for a in v.split(",")
                             if a.strip())
    if args.rpo is not None:
        text = args.rpo.strip().lower().removesuffix("h")
        if text in ("0", "off", "none", ""):
            fields["rpo_hours"] = None
        else:
            try:
                fields["rpo_hours"] = int(text)
            except ValueError:
                raise InvalidInput(f"--rpo '{args.rpo}': give whole hours, e.g. --rpo 24.") \
                    from None
    return fields


def _health_check(args: argparse.Namespace, current: Any) -> Any:
    """The job's health check, as the active-full options are parsed;
    ``--health-check-mode`` alone changes the mode of the current one."""
    if args.no_health_check:
        if args.health_check_mode is not None:
            raise InvalidInput("--health-check-mode needs a health check: drop "
                               "--no-health-check, or leave out --health-check-mode.")
        return None
    mode = current.get("mode") if isinstance(current, dict) else \
        current.mode if isinstance(current, HealthCheckSchedule) else None
    if args.health_check_mode is not None:
        mode = None if args.health_check_mode == "auto" else HealthCheckMode(args.health_check_mode)
    if args.health_check_weekly is not None:
        return HealthCheckSchedule(kind=ActiveFullKind.WEEKLY,
                                   days=parse_days(args.health_check_weekly), mode=mode)
    if args.health_check_monthly is not None:
        day = args.health_check_monthly.strip().lower()
        if day == "last":
            return HealthCheckSchedule(kind=ActiveFullKind.MONTHLY, last_day=True, mode=mode)
        try:
            return HealthCheckSchedule(kind=ActiveFullKind.MONTHLY, day_of_month=int(day),
                                       mode=mode)
        except ValueError:
            raise InvalidInput("--health-check-monthly takes a day of the month (1-31) "
                               "or 'last'.") from None
    if args.health_check_mode is not None:
        if current is None:
            raise InvalidInput("--health-check-mode needs a health check: add "
                               "--health-check-weekly DAYS or --health-check-monthly DAY.")
        plan = current if isinstance(current, HealthCheckSchedule) else \
            HealthCheckSchedule.model_validate(current)
        return plan.model_copy(update={"mode": mode})
    return current


def _active_full(args: argparse.Namespace, current: Any) -> Any:
    if args.no_active_full:
        return None
    if args.active_full_weekly is not None:
        return ActiveFullSchedule(kind=ActiveFullKind.WEEKLY,
                                  days=parse_days(args.active_full_weekly))
    if args.active_full_monthly is not None:
        day = args.active_full_monthly.strip().lower()
        if day == "last":
            return ActiveFullSchedule(kind=ActiveFullKind.MONTHLY, last_day=True)
        try:
            return ActiveFullSchedule(kind=ActiveFullKind.MONTHLY, day_of_month=int(day))
        except ValueError:
            raise InvalidInput("--active-full-monthly takes a day of the month (1-31) "
                               "or 'last'.") from None
    return current


def _retention_preview(preview: RetentionPreview, as_json: bool) -> None:
    """``job retention-preview``: every point, kept (and why) or going now."""
    if as_json:
        print_json(preview.model_dump(mode="json"))
        return
    rules = f"the last {preview.retain_points}" + (
        f", {preview.gfs.describe()}" if preview.gfs.enabled else "")
    print(f"Job '{preview.job}' keeps {rules} per computer: "
          f"{len(preview.kept)} point(s) kept, {len(preview.dropped)} would go now.")
    if preview.points:
        table(["Computer", "Created", "Type", "Point", "Retention", "Why"],
              [[p.computer, short(p.created), p.type.value, p.id,
                "keep" if p.keep else "GOES", ", ".join(p.reasons)] for p in preview.points])


def _show(job: Any, as_json: bool) -> None:
    """``job show``: every setting of the job, then its state."""
    if as_json:
        print_json({**job_summary(job), "active_session_id": job.active_session_id,
                    "definition": job.definition.model_dump(mode="json")})
        return
    lines = describe_settings(job.definition) + [
        ("Status", f"{job.status.value} {job.progress}%" if job.status.value == "Working"
         else job.status.value),
        ("Last run", short(job.last_run) or "never"),
        ("Last result", job.last_result.value if job.last_result else ""),
        ("Next run", short(job.next_run) if job.next_run else "<not scheduled>"),
    ]
    width = max(len(label) for label, _ in lines) + 1
    for label, text in lines:
        print(f"{label + ':':<{width}} {text}")


def _computer(spec: str) -> Computer:
    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        raise InvalidInput(f"--computer '{spec}' must look like NAME=PATH.")
    if path.startswith("ssh://"):   # a Linux computer over SSH: the path is on it
        return Computer(name=name, path=path)
    return Computer(name=name, path=str(Path(path).expanduser().resolve()))


def _ssh(args: argparse.Namespace, current: Any) -> SshSettings:
    """The job's SSH settings: ``current`` with --identity, --known-hosts and
    --[no-]accept-new-host-key applied (files as absolute paths)."""
    fields: dict[str, Any] = {}
    if current is not None:
        fields = current.model_dump() if isinstance(current, SshSettings) else dict(current)
    for option, field in (("identity", "identity_file"), ("known_hosts", "known_hosts_file")):
        value = getattr(args, option, None)
        if value is None:
            continue
        if not value.strip():
            fields[field] = None   # back to the default
            continue
        path = Path(value).expanduser().absolute()
        flag = "--" + option.replace("_", "-")
        if option == "identity" and not path.is_file():
            raise InvalidInput(f"{flag}: {path} does not exist or is not a file.")
        if path.is_dir():
            raise InvalidInput(f"{flag}: {path} is a folder; give a file.")
        fields[field] = str(path)
    accept = getattr(args, "accept_new_host_key", None)
    if accept is not None:
        fields["accept_new_host_key"] = accept
    return SshSettings.model_validate(fields)


def _schedule(args: argparse.Namespace, current: Any) -> Schedule | None:
    if args.no_schedule:
        return None
    fields: dict[str, Any] = {}
    if current is not None:
        fields = current.model_dump() if isinstance(current, Schedule) else dict(current)
    if args.daily:
        fields.update(kind=ScheduleKind.DAILY, at=parse_hhmm(args.daily))
    elif args.monthly:
        last = args.monthly.strip().lower() == "last"
        fields.update(kind=ScheduleKind.MONTHLY, last_day=last)
        if not last:
            try:
                fields["day_of_month"] = int(args.monthly)
            except ValueError:
                raise InvalidInput("--monthly takes a day of the month (1-31) or 'last'.") \
                    from None
    elif args.every:
        fields.update(kind=ScheduleKind.PERIODICALLY,
                      every_minutes=parse_duration_minutes(args.every))
    details = any(v is not None for v in (args.days, args.at, args.retries, args.retry_wait,
                                          args.window, args.window_days, args.window_stop)) \
        or args.no_window
    if not fields:
        if details:
            raise InvalidInput("Choose when the job runs first: --daily HH:MM, --monthly DAY "
                               "or --every PERIOD.")
        return None
    if args.days is not None:
        fields["days"] = parse_days(args.days)
    if args.at is not None:
        fields["at"] = parse_hhmm(args.at)
    if args.retries is not None:
        fields["retries"] = args.retries
    if args.retry_wait is not None:
        fields["retry_wait_minutes"] = parse_duration_minutes(args.retry_wait)
    if args.no_window:
        fields["window"] = None
    elif args.window is not None or args.window_days is not None or \
            args.window_stop is not None:
        window = dict(fields.get("window") or {})
        if args.window is not None:
            window["start"], window["end"] = parse_window(args.window)
        elif not window:
            raise InvalidInput("--window-days needs --window HH:MM-HH:MM.")
        if args.window_days is not None:
            window["days"] = parse_days(args.window_days)
        if args.window_stop is not None:
            window["terminate"] = args.window_stop == "immediately"
            window["pause"] = args.window_stop == "pause"
        fields["window"] = BackupWindow.model_validate(window)
    return Schedule.model_validate(fields)
