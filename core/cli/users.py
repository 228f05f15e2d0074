"""``agent-jobs user add|list|set|disable|enable|remove``: the server's named users
(issue 23). The first administrator is added through the local socket, as the
server's own Unix user; after that an administrator may do it from anywhere."""
from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import SecretStr

from core.cli.connect import client
from core.cli.output import print_json, read_password_file, short, table
from core.errors import InvalidInput
from core.models import Role, UserChange, UserInfo


def _role(text: str | None) -> Role | None:
    if text is None:
        return None
    try:
        return Role(text)
    except ValueError:
        raise InvalidInput(f"--role {text!r}: give one of "
                           f"{', '.join(r.value for r in Role)}.") from None


def _line(user: UserInfo) -> str:
    extra = []
    if not user.enabled:
        extra.append("disabled")
    if user.totp:
        extra.append("TOTP")
    if user.restore_to:
        extra.append("restores to " + ", ".join(user.restore_to))
    return f"{user.name} ({user.role.label}{'; ' + '; '.join(extra) if extra else ''})"


def run(args: argparse.Namespace, data_dir: Path) -> int:
    action = args.user_command
    with client(data_dir, args=args) as api:
        if action == "list":
            users = api.list_users()
            if args.json:
                print_json([u.model_dump(mode="json") for u in users])
            elif not users:
                print("No named users yet. Add the first administrator with 'agent-jobs user "
                      "add NAME --role administrator --password-file FILE'.")
            else:
                table(["USER", "ROLE", "ENABLED", "TOTP", "RESTORE TO", "CREATED"],
                      [[u.name, u.role.value, "yes" if u.enabled else "no",
                        "yes" if u.totp else "no", ", ".join(u.restore_to) or "-",
                        short(u.created)] for u in users])
            return 0
        if action == "add":
            role = _role(args.role)
            assert role is not None
            password = SecretStr(read_password_file(args.password_file, "--password-file"))
            user = api.add_user(args.name, role, password, args.restore_to or None)
            print(f"Added {_line(user)}.")
            return 0
        if action == "set":
            change = UserChange(
                role=_role(args.role),
                password=SecretStr(read_password_file(args.password_file, "--password-file"))
                if args.password_file else None,
                restore_to=[] if args.no_restore_to else (args.restore_to or None))
            if args.totp and args.no_totp:
                raise InvalidInput("--totp and --no-totp contradict each other: give one.")
            changed = change.model_dump(exclude_none=True)
            if not changed and not args.totp and not args.no_totp:
                raise InvalidInput("Nothing to change: give --role, --password-file, "
                                   "--restore-to, --no-restore-to, --totp or --no-totp.")
            if changed:
                print(f"Changed {_line(api.change_user(args.name, change))}.")
            if args.totp or args.no_totp:
                setup = api.set_user_totp(args.name, bool(args.totp))
                if setup is None:
                    print(f"{args.name} logs in with the password alone now.")
                else:
                    print(f"{args.name} now logs in with a code too. Add this to the "
                          "authenticator app (shown once):")
                    print(f"  secret: {setup.secret}")
                    print(f"  URI:    {setup.uri}")
            return 0
        if action in ("disable", "enable"):
            user = api.change_user(args.name, UserChange(enabled=action == "enable"))
            print(f"{'Enabled' if user.enabled else 'Disabled'} {_line(user)}.")
            return 0
        api.remove_user(args.name)
        print(f"Removed the user {args.name}.")
        return 0
