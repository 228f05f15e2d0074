"""The command line of ``agent-jobs user``: argparse alone, so that building the
parser (``--help``, a usage error) loads neither pydantic nor the models."""
from __future__ import annotations

import argparse

# core.models.Role's values (tests/core/cli/test_cli_startup.py keeps them equal)
ROLE_NAMES = ("administrator", "operator", "restore-operator", "viewer")


def add_commands(sub: argparse._SubParsersAction) -> None:   # type: ignore[type-arg]
    roles = ", ".join(ROLE_NAMES)
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
