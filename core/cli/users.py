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


def add_commands(sub: argparse._SubParsersAction) -> None:   # type: ignore[type-arg]
    roles = ", ".join(r.value for r in Role)
    user = sub.add_parser("user", help="named users who log in over TLS, and their roles")
    usub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = usub.add_parser("add", help="add a user")
    add.add_argument("name")
    add.add_argument("--role", required=True, metavar="ROLE", help=f"one of {roles}")
    add.add_argument("--password-file", required=True, metavar="FILE",
                     help="the password, on the first line of FILE (8 characters or more)")
    add.add_argument("--restore-to", action="append", metavar="DIR",
                     help="a folder a restore operator may restore into (repeatable)")
    lst = usub.add_parser("list", help="list the users")
    lst.add_argument("--json", action="store_true")
    change = usub.add_parser("set", help="change a user's role, password, restore folders "
                                         "or second factor")
    change.add_argument("name")
    change.add_argument("--role", metavar="ROLE", help=f"one of {roles}")
    change.add_argument("--password-file", metavar="FILE",
                        help="the new password, on the first line of FILE")
    change.add_argument("--restore-to", action="append", metavar="DIR",
                        help="the folders a restore operator may restore into (repeatable; "
                             "replaces the list)")
    change.add_argument("--no-restore-to", action="store_true",
                        help="allow no restore folder any more")
    change.add_argument("--totp", action="store_true",
                        help="require a TOTP code at login: prints a new secret and its URI "
                             "once")
    change.add_argument("--no-totp", action="store_true", help="log in with the password "
                                                               "alone")
    for verb, what in (("disable", "keep a user from logging in (their tokens end now)"),
                       ("enable", "let a disabled user log in again"),
                       ("remove", "remove a user (never the last enabled administrator)")):
        usub.add_parser(verb, help=what).add_argument("name")
