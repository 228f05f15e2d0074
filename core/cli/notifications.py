"""``agent-jobs notifications ...``: the mail server, notification URLs and
the daily summary the server sends."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from core.cli.connect import client
from core.cli.output import print_json
from core.errors import InvalidInput
from core.models import NotificationSettings, SmtpSecurity, SmtpSettings

DEFAULT_PORT = {SmtpSecurity.NONE: 25, SmtpSecurity.STARTTLS: 587, SmtpSecurity.SSL: 465}
SECURITY_OF_PORT = {465: SmtpSecurity.SSL, 587: SmtpSecurity.STARTTLS}
SMTP_OPTION = {"host": "--smtp", "port": "--smtp", "sender": "--from", "to": "--to",
               "user": "--user", "security": "--security"}


def run(args: argparse.Namespace, data_dir: Path) -> int:
    command = args.notifications_command
    with client(data_dir) as api:
        if command == "set":
            current = api.get_notifications()
            settings, password = _settings(args, current)
            saved = api.set_notifications(settings, password)
            print("Notification settings saved.")
            _print(saved)
        elif command == "add-url":
            saved = api.add_notification_url(args.url)
            print(f"Added {args.url}: {len(saved.urls)} notification URL(s).")
        elif command == "remove-url":
            saved = api.remove_notification_url(args.url)
            print(f"Removed {args.url}: {len(saved.urls)} notification URL(s) left.")
        elif command == "test":
            results = api.test_notifications()
            for result in results:
                print(f"{result.destination}: " + ("delivered" if result.ok else
                                                   f"NOT delivered: {result.error}"))
            failed = [r for r in results if not r.ok]
            if failed:
                print(f"error: {len(failed)} of {len(results)} destination(s) did not take the "
                      "test message (see above).", file=sys.stderr)
                return 1
        else:
            settings = api.get_notifications()
            info = api.server_info() or {}
            status = info.get("notifications")
            if args.json:
                print_json({**settings.model_dump(mode="json"), "status": status})
            else:
                _print(settings)
                if status:
                    print(status_line(status))
    return 0


def status_line(status: dict[str, Any]) -> str:
    """ "Sent 3, failed 1 since the server started (last failure ...: why)"."""
    text = f"Sent {status.get('sent', 0)}, failed {status.get('failed', 0)} since the server " \
           "started"
    if status.get("queued"):
        text += f", {status['queued']} waiting"
    if status.get("last_error"):
        text += f"; last failure {status.get('last_error_at') or ''}: {status['last_error']}"
    return text


def _print(settings: NotificationSettings) -> None:
    print(f"E-mail:        {settings.smtp.describe() if settings.smtp else 'not set'}")
    if settings.urls:
        for index, url in enumerate(settings.urls):
            print(f"{'URLs:' if index == 0 else '':<14} {url}")
    else:
        print("URLs:          none")
    print(f"Daily summary: {('at ' + settings.summary_at) if settings.summary_at else 'off'}")


def _to_list(values: list[str]) -> tuple[str, ...]:
    return tuple(a.strip() for v in values for a in v.split(",") if a.strip())


def _read_password(path: str) -> SecretStr:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).expanduser().read_text("utf-8")
    except OSError as exc:
        raise InvalidInput(f"--password-file: cannot read {path}: {exc.strerror or exc}.") \
            from None
    except UnicodeDecodeError:
        raise InvalidInput(f"--password-file: {path} is not a text file.") from None
    password = text.removesuffix("\n").removesuffix("\r")
    if not password:
        raise InvalidInput(f"--password-file: {path} is empty; write the password in it.")
    return SecretStr(password)


def _host_port(text: str, security: SmtpSecurity | None) -> tuple[str, int, SmtpSecurity]:
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        host, port_text = text.strip(), ""
    host = host.strip("[]")
    port: int | None = None
    if port_text:
        try:
            port = int(port_text)
        except ValueError:
            raise InvalidInput(f"--smtp '{text}': the port must be a number, e.g. "
                               "mail.example.com:587.") from None
    if not host:
        raise InvalidInput(f"--smtp '{text}' names no host: write HOST[:PORT], e.g. "
                           "mail.example.com:587.")
    if security is None:
        security = SECURITY_OF_PORT.get(port or 25, SmtpSecurity.NONE)
    return host, port if port is not None else DEFAULT_PORT[security], security


def _settings(args: argparse.Namespace, current: NotificationSettings
              ) -> tuple[NotificationSettings, SecretStr | None]:
    update: dict[str, Any] = {}
    password: SecretStr | None = None
    smtp_options = [args.smtp, args.sender, args.to, args.user, args.password_file,
                    args.security]
    if args.no_smtp:
        if any(o is not None for o in smtp_options):
            raise InvalidInput("--no-smtp forgets the mail server: give it alone, without "
                               "--smtp, --from, --to, --user, --password-file or --security.")
        update["smtp"] = None
    elif any(o is not None for o in smtp_options):
        fields: dict[str, Any] = current.smtp.model_dump() if current.smtp else {}
        if args.smtp is None and not fields:
            raise InvalidInput("No mail server is set: give it with --smtp HOST[:PORT], and "
                               "--from ADDR --to ADDR.")
        security = SmtpSecurity(args.security) if args.security else None
        if args.smtp is not None:
            fields["host"], fields["port"], fields["security"] = _host_port(args.smtp, security)
        elif security is not None:
            fields["security"] = security
        if args.sender is not None:
            fields["sender"] = args.sender
        if args.to is not None:
            fields["to"] = _to_list(args.to)
        if args.user is not None:
            fields["user"] = args.user.strip() or None
            if fields["user"] is None:
                password = SecretStr("")   # no login: no password kept either
        if args.password_file is not None:
            if not fields.get("user"):
                raise InvalidInput("--password-file needs --user NAME: the login the password "
                                   "belongs to.")
            password = _read_password(args.password_file)
        missing = [o for o, f in (("--from ADDR", "sender"), ("--to ADDR", "to"))
                   if not fields.get(f)]
        if missing:
            raise InvalidInput(f"The mail server needs {' and '.join(missing)}: who the "
                               "notifications come from and go to.")
        try:
            update["smtp"] = SmtpSettings.model_validate(fields)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = SMTP_OPTION.get(str(err.get("loc", ("",))[0]), "")
            msg = str(err.get("msg", exc)).removeprefix("Value error, ")
            raise InvalidInput(f"{where}: {msg}" if where else msg) from None
    if args.no_summary:
        update["summary_at"] = None
    elif args.summary_at is not None:
        update["summary_at"] = args.summary_at
    if not update and password is None:
        raise InvalidInput("Nothing to set: give --smtp HOST[:PORT] --from ADDR --to ADDR, "
                           "--summary-at HH:MM, or see 'agent-jobs notifications set --help'.")
    merged = current.model_dump()
    merged.update(update)
    return NotificationSettings.model_validate(merged), password
