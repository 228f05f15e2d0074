"""At server start: an older version left the data directory 0755 and its
files 0644, so every local user could read the job list, the logs and the
packs. The server takes group and other access off the data directory and
the local repository folders registered in it (those of this user), and says
so in its log in one line."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from core.paths import demo_computers_dir
from core.process.private_files import Tightened, tighten

log = logging.getLogger(__name__)


def tighten_data_dir(data_dir: Path) -> Tightened:
    """The data directory and everything in it, but for the demo computers'
    files (stand-ins for other machines' files, whose modes are backed up)."""
    return tighten(data_dir, keep_contents={demo_computers_dir(data_dir).name})


def tighten_repositories(data_dir: Path, folders: Iterable[Path]) -> Tightened:
    """Local repositories outside the data directory (the default one is in
    it). A folder that is missing (a detached disk) is skipped."""
    home = data_dir.resolve()
    result = Tightened()
    for folder in folders:
        folder = folder.resolve()
        if folder == home or home in folder.parents:
            continue
        result.add(tighten(folder))
    return result


def report(data_dir: Path, result: Tightened) -> None:
    if result.changed:
        log.warning("Made %d files and folders of %s and its local repositories owner-only: "
                    "they were open to other users (left so by an older version).",
                    result.changed, data_dir)
    if result.problems:
        more = f" (and {len(result.problems) - 1} more)" if len(result.problems) > 1 else ""
        log.warning("Could not make %d files or folders owner-only: %s%s. Remove group and "
                    "other access by hand (chmod go-rwx).", len(result.problems),
                    result.problems[0], more)
