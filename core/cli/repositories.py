"""``agent-jobs repository ...``: the backup repositories of the server."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from pydantic import SecretStr

from ..api import RepositoryInfo, RepositorySpec, size_text
from ..errors import InvalidInput
from .connect import client
from .output import print_json, short, table


def run(args: argparse.Namespace, data_dir: Path) -> int:
    sub = args.repository_command
    if sub in ("add", "test"):
        return _add(args, data_dir)
    if sub == "key":
        return _key(args, data_dir)
    with client(data_dir) as api:
        if sub == "list":
            found = api.list_repositories()
            if args.json:
                print_json([r.model_dump(mode="json") for r in found])
            else:
                _table(found)
        elif sub == "remove":
            location = next((r.location for r in api.list_repositories()
                             if r.name.lower() == args.name.strip().lower()), None)
            api.remove_repository(args.name)
            print(f"Removed backup repository '{args.name}' from the list. Its data was not "
                  "deleted" + (f": it stays at {location}." if location else "."))
    return 0


def _add(args: argparse.Namespace, data_dir: Path) -> int:
    password = read_password_file(args.password_file, "--password-file") \
        if args.password_file is not None else None
    spec = RepositorySpec(name=getattr(args, "name", None) or "", url=absolute_url(args.url),
                          password=SecretStr(password) if password is not None else None,
                          insecure_no_encryption=args.insecure_no_encryption)
    with client(data_dir) as api:
        if args.repository_command == "test":
            print(api.test_repository(spec) + ".")
            return 0
        info = api.add_repository(spec)
    print(f"Added backup repository '{info.name}': {info.location} ("
          + ("encrypted" if info.encrypted else "not encrypted") + ")."
          + (f" {_space(info)}." if info.used_bytes is not None else ""))
    return 0


def _key(args: argparse.Namespace, data_dir: Path) -> int:
    sub = args.key_command
    password = read_password_file(args.new_password_file, "--new-password-file") \
        if sub == "add" else None
    with client(data_dir) as api:
        if sub == "list":
            keys = api.list_repository_keys(args.name)
            if args.json:
                print_json([k.model_dump(mode="json") for k in keys])
            else:
                table(["Key", "Created", "Current"],
                      [[k.id, short(k.created), "yes (the server's password)" if k.current
                        else ""] for k in keys])
        elif sub == "add":
            assert password is not None
            key_id = api.add_repository_key(args.name, SecretStr(password))
            print(f"Added key {key_id} to backup repository '{args.name}': the new password "
                  "opens it too.")
        elif sub == "remove":
            api.remove_repository_key(args.name, args.key_id)
            print(f"Removed key {args.key_id} from backup repository '{args.name}': its "
                  "password no longer opens it.")
    return 0


def _table(found: list[RepositoryInfo]) -> None:
    table(["Name", "Type", "Location", "Encrypted", "Jobs", "Used", "Free", "State"],
          [[r.name + (" (default)" if r.default else ""), "S3" if r.kind == "s3" else "Local",
            r.location, "yes" if r.encrypted else "no", ", ".join(r.jobs),
            size_text(r.used_bytes) if r.used_bytes is not None else "",
            size_text(r.free_bytes) if r.free_bytes is not None else "",
            r.problem or "OK"] for r in found])


def _space(info: RepositoryInfo) -> str:
    assert info.used_bytes is not None
    free = f", {size_text(info.free_bytes)} free" if info.free_bytes is not None else ""
    return f"{size_text(info.used_bytes)} used{free}"


def read_password_file(name: str, option: str) -> str:
    """The first line of a password file (without its line end)."""
    path = Path(name).expanduser()
    try:
        with open(path, encoding="utf-8") as f:
            line = f.readline()
    except FileNotFoundError:
        raise InvalidInput(f"{option}: {path} does not exist.") from None
    except IsADirectoryError:
        raise InvalidInput(f"{option}: {path} is a folder, not a file.") from None
    except PermissionError:
        raise InvalidInput(f"{option}: {path} cannot be read (permission denied).") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{option}: {path} is not a text file (UTF-8).") from None
    except OSError as exc:
        raise InvalidInput(f"{option}: cannot read {path}: {exc.strerror or exc}.") from None
    password = line.rstrip("\r\n")
    if not password:
        raise InvalidInput(f"{option}: the first line of {path} is empty; put the password "
                           "on it.")
    return password


def absolute_url(url: str) -> str:
    """A local folder given relative to here, made absolute (the server runs
    elsewhere); URLs are left as they are."""
    text = url.strip()
    if not text or ":" in text.split("/", 1)[0]:
        return text
    return os.path.abspath(os.path.expanduser(text))
