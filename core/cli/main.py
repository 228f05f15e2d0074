"""Entry point: parse, dispatch, and turn every error into one line."""
from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ConsoleError, InvalidInput
from core.logs import setup_logging
from core.paths import resolve_data_dir
from core.cli.output import print_error
from core.cli.parser import UsageError, build_parser

OPTION_OF_FIELD = {"task_slots": "--tasks", "retain_points": "--retain",
                   "throttle_mbps": "--throttle", "description": "--description",
                   "computers": "--computer", "name": "NAME", "schedule": "schedule",
                   "path": "--computer", "repository": "--repository",
                   "keep_daily": "--keep-daily", "keep_weekly": "--keep-weekly",
                   "keep_monthly": "--keep-monthly", "keep_yearly": "--keep-yearly",
                   "rpo_hours": "--rpo", "summary_at": "--summary-at",
                   "copy_source": "--source", "source": "--source",
                   "pressure_threshold": "--pressure-threshold"}

if TYPE_CHECKING:
    from pydantic import ValidationError

# Each verb's module is imported only when that verb runs: a command pays for
# what it uses (`job list` loads neither the server nor the audit or copy code).
COMMANDS = {
    "server": "server:run", "demo": "jobs:demo", "job": "jobs:run", "start": "sessions:start",
    "stop": "sessions:stop", "pause": "sessions:pause",
    "resume": "sessions:resume", "sessions": "sessions:list_sessions", "points": "sessions:points",
    "session": "sessions:show_session",
    "restore": "sessions:restore", "verify": "sessions:verify", "repair": "sessions:repair",
    "repository": "repositories:run", "maintenance": "maintenance:run", "copy": "copyjobs:run",
    "notifications": "notifications:run", "audit": "audit:run", "user": "users:run",
}


def command(name: str) -> Callable[[Any, Path], int]:
    module, function = COMMANDS[name].split(":")
    handler: Callable[[Any, Path], int] = getattr(
        importlib.import_module(f"core.cli.{module}"), function)
    return handler


def _validation_error(exc: BaseException) -> ValidationError | None:
    """``exc`` if it is pydantic's ValidationError. Without importing pydantic: a
    command that never loaded it cannot have raised one."""
    pydantic = sys.modules.get("pydantic")
    if pydantic is None or not isinstance(exc, pydantic.ValidationError):
        return None
    from pydantic import ValidationError   # loaded already: costs nothing
    return exc if isinstance(exc, ValidationError) else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # With --json every answer is JSON, errors too: {"error": {"kind": ..., "message": ...}}
    as_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        return print_error(str(exc), "UsageError", as_json=as_json, code=2)
    try:
        if args.data_dir is not None and not args.data_dir.strip():
            raise InvalidInput("--data-dir needs a folder; it was given an empty path.")
        data_dir = resolve_data_dir(args.data_dir)
        from core.cli import connect   # after parsing: --help and usage errors load no client

        if connect.configure(args) is not None and args.command == "server" \
                and args.server_command in ("run", "status"):
            raise InvalidInput("'server run' and 'server status' are for the server's own "
                               "machine: leave out --server (and $AGENT_JOBS_SERVER).")
        if args.command != "server" and data_dir.is_dir():
            setup_logging(data_dir, "cli", level=logging.WARNING)
        return command(args.command)(args, data_dir)
    except ConsoleError as exc:
        return print_error(str(exc), type(exc).__name__, as_json=as_json)
    except ValueError as exc:   # a pydantic model or an option's parser refused a value
        invalid = _validation_error(exc)
        if invalid is not None:
            return print_error(validation_message(invalid), "InvalidInput", as_json=as_json)
        return print_error(str(exc), "InvalidInput", as_json=as_json)
    except KeyboardInterrupt:
        if as_json:
            return print_error("interrupted", "Interrupted", as_json=True, code=130)
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:   # `agent-jobs ... | head`: the reader left; say nothing
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:   # a path the system refused (too long, not a folder, ...)
        name = str(exc.filename or "")
        where = f" {name[:120]}..." if len(name) > 120 else f" {name}" if name else ""
        return print_error(f"cannot use{where}: {exc.strerror or exc}.", "OSError",
                           as_json=as_json)
    except Exception as exc:  # never a traceback
        return print_error(f"unexpected {exc.__class__.__name__}: {exc}", "InternalError",
                           as_json=as_json, code=2)


def validation_message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    msg = str(err.get("msg", exc)).removeprefix("Value error, ")
    loc = [str(x) for x in err.get("loc", ())]
    if loc[:1] in (["gfs"], ["notify"]):   # nested settings: name the option (--keep-daily)
        loc = loc[1:]
    if not loc or loc[0] not in OPTION_OF_FIELD or loc[0] in msg:
        return msg
    return f"{OPTION_OF_FIELD[loc[0]]}: {msg[0].lower()}{msg[1:]}"


if __name__ == "__main__":
    sys.exit(main())
