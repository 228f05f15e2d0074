"""``agent-jobs repository ...``: the backup repositories of the server."""
from __future__ import annotations

import argparse
import configparser
import os
import stat
from pathlib import Path

from pydantic import SecretStr

from core.api import RepositoryInfo, RepositorySpec, repository_kind_text, size_text
from core.errors import InvalidInput
from core.cli.connect import client
from core.cli.output import _reading, read_password_file
from core.cli.output import print_json, short, table

ENV_ACCESS_KEY = "AWS_ACCESS_KEY_ID"
ENV_SECRET_KEY = "AWS_SECRET_ACCESS_KEY"


def run(args: argparse.Namespace, data_dir: Path) -> int:
    sub = args.repository_command
    if sub in ("add", "test"):
        return _add(args, data_dir)
    if sub == "key":
        return _key(args, data_dir)
    if sub == "password":
        return _password(args, data_dir)
    if sub == "set-keys":
        return _set_keys(args, data_dir)
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
            forgotten = api.remove_repository(args.name)
            print(f"Removed backup repository '{args.name}' from the list. Its data was not "
                  "deleted" + (f": it stays at {location}." if location else ".")
                  + (f" Its {forgotten} restore point(s) are no longer listed; they are again "
                     "if it is added back." if forgotten else ""))
    return 0


def _add(args: argparse.Namespace, data_dir: Path) -> int:
    password = read_password_file(args.password_file, "--password-file") \
        if args.password_file is not None else None
    url = absolute_url(args.url)
    keys = s3_keys(args.credentials_file, required=False) \
        if url.lower().startswith("s3:") or args.credentials_file is not None else None
    spec = RepositorySpec(name=getattr(args, "name", None) or "", url=url,
                          password=SecretStr(password) if password is not None else None,
                          insecure_no_encryption=args.insecure_no_encryption,
                          immutable_days=args.immutable_days,
                          access_key_id=keys[0] if keys else None,
                          secret_access_key=SecretStr(keys[1]) if keys else None)
    with client(data_dir) as api:
        if args.repository_command == "test":
            print(api.test_repository(spec) + ".")
            return 0
        info = api.add_repository(spec)
    print(f"Added backup repository '{info.name}': {info.location} ("
          + ("encrypted" if info.encrypted else "not encrypted")
          + (f", immutable for {info.immutable_days} day(s)" if info.immutable_days else "")
          + ")."
          + (f" {_space(info)}." if info.used_bytes is not None else ""))
    return 0


def _password(args: argparse.Namespace, data_dir: Path) -> int:
    password = read_password_file(args.password_file, "--password-file")
    with client(data_dir) as api:
        api.set_repository_password(args.name, SecretStr(password))
    print(f"The password opens backup repository '{args.name}': the server keeps it for "
          "its backups.")
    return 0


def _set_keys(args: argparse.Namespace, data_dir: Path) -> int:
    keys = s3_keys(args.credentials_file, required=True)
    assert keys is not None
    with client(data_dir) as api:
        api.set_repository_s3_keys(args.name, keys[0], SecretStr(keys[1]))
    print(f"The S3 keys reach backup repository '{args.name}': the server keeps them for it.")
    return 0


def _key(args: argparse.Namespace, data_dir: Path) -> int:
    sub = args.key_command
    password = read_password_file(args.new_password_file, "--new-password-file") \
        if sub in ("add", "passwd") else None
    with client(data_dir) as api:
        if sub == "list":
            keys = api.list_repository_keys(args.name)
            if args.json:
                print_json([k.model_dump(mode="json") for k in keys])
            else:
                table(["Key", "Created", "Current"],
                      [[k.id, short(k.created) if k.created else "DAMAGED",
                        "yes (the server's password)" if k.current else ""] for k in keys])
                if any(k.damaged for k in keys):
                    print("A damaged key object no longer opens the repository: remove it "
                          "with 'repository key remove', then add its password again with "
                          "'repository key add'.")
        elif sub == "add":
            assert password is not None
            key_id = api.add_repository_key(args.name, SecretStr(password))
            print(f"Added key {key_id} to backup repository '{args.name}': the new password "
                  "opens it too.")
        elif sub == "passwd":
            assert password is not None
            key_id = api.change_repository_password(args.name, SecretStr(password))
            print(f"Changed the password of backup repository '{args.name}': key {key_id} "
                  "replaces the server's old key, and the server keeps the new password.")
        elif sub == "remove":
            api.remove_repository_key(args.name, args.key_id)
            print(f"Removed key {args.key_id} from backup repository '{args.name}': its "
                  "password no longer opens it.")
    return 0


def _table(found: list[RepositoryInfo]) -> None:
    table(["Name", "Type", "Location", "Encrypted", "Jobs", "Used", "Free", "State"],
          [[r.name + (" (default)" if r.default else ""), repository_kind_text(r.kind),
            r.location, "yes" if r.encrypted else "no", ", ".join(r.jobs),
            size_text(r.used_bytes) if r.used_bytes is not None else "",
            size_text(r.free_bytes) if r.free_bytes is not None else "",
            r.problem or "OK"] for r in found])


def _space(info: RepositoryInfo) -> str:
    assert info.used_bytes is not None
    free = f", {size_text(info.free_bytes)} free" if info.free_bytes is not None else ""
    return f"{size_text(info.used_bytes)} used{free}"


def s3_keys(credentials_file: str | None, *, required: bool) -> tuple[str, str] | None:
    """S3 keys to send: from the credentials file, else this shell's
    AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (None without them, unless
    ``required``). Never printed."""
    if credentials_file is not None:
        return read_credentials_file(credentials_file)
    key, secret = os.environ.get(ENV_ACCESS_KEY), os.environ.get(ENV_SECRET_KEY)
    if key and secret:
        return key, secret
    if required:
        raise InvalidInput(f"No S3 keys: give --credentials-file FILE, or set {ENV_ACCESS_KEY} "
                           f"and {ENV_SECRET_KEY}.")
    return None


def read_credentials_file(name: str) -> tuple[str, str]:
    """The [default] keys of an AWS shared-credentials file, readable by its
    owner only. Messages never quote the file's lines (they hold the secret)."""
    option = "--credentials-file"
    path = Path(name).expanduser()
    with _reading(option, path):
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise InvalidInput(f"{option}: {path} is a folder, not a file.")
        if mode & 0o077:
            raise InvalidInput(f"{option}: {path} can be read by other users (mode "
                               f"{stat.S_IMODE(mode):04o}): run 'chmod 600 {path}' first.")
        text = path.read_text(encoding="utf-8")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        raise InvalidInput(f"{option}: {path} is not an AWS credentials file ([default] "
                           "with aws_access_key_id and aws_secret_access_key).") from None
    section = parser["default"] if parser.has_section("default") else None
    key = section.get("aws_access_key_id", "").strip() if section is not None else ""
    secret = section.get("aws_secret_access_key", "").strip() if section is not None else ""
    if not key or not secret:
        raise InvalidInput(f"{option}: {path} has no [default] section with both "
                           "aws_access_key_id and aws_secret_access_key.")
    return key, secret


def absolute_url(url: str) -> str:
    """A local folder given relative to here, made absolute (the server runs
    elsewhere); URLs are left as they are."""
    text = url.strip()
    if not text or ":" in text.split("/", 1)[0]:
        return text
    return os.path.abspath(os.path.expanduser(text))
