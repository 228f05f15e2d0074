"""Locates the console's resources (style sheet, SVG icons) and loads them.

``resources/`` sits at the repository's top level next to ``gui/``. An
installed copy may also be found under ``sys.prefix``; the environment
variable ``AGENT_CONSOLE_RESOURCES`` overrides both.
"""
from __future__ import annotations

import os
import sys
from functools import lru_cache, cache
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon

ENV_VAR = "AGENT_CONSOLE_RESOURCES"
_MARKER = "style.qss"


def _candidates() -> list[Path]:
    here = Path(__file__).resolve().parent
    found: list[Path] = []
    env = os.environ.get(ENV_VAR)
    if env:
        found.append(Path(env).expanduser())
    found += [
        here.parents[1] / "resources",             # source checkout
        here / "resources",                        # resources copied into the package
        Path(sys.prefix) / "resources",            # package-data "../resources" installs
        Path(sys.prefix) / "share" / "agent-backup-console" / "resources",
    ]
    return found


@lru_cache(maxsize=1)
def resources_dir() -> Path:
    """The first candidate directory that holds the style sheet."""
    for candidate in _candidates():
        if (candidate / _MARKER).is_file():
            return candidate.resolve()
    tried = ", ".join(str(c) for c in _candidates())
    raise FileNotFoundError(f"Console resources not found (looked in: {tried})")


def icon_path(name: str) -> Path:
    return resources_dir() / "icons" / f"{name}.svg"


@cache
def icon(name: str) -> QIcon:
    """An icon drawn from its SVG file: sharp at any size and device pixel ratio.

    A missing icon yields an empty QIcon rather than an error: the console
    must keep working with a partial resource set."""
    path = icon_path(name)
    result = QIcon()
    if path.is_file():
        # The same drawing when selected: no tinting of the flat, coloured icons.
        for mode in (QIcon.Mode.Normal, QIcon.Mode.Selected, QIcon.Mode.Active):
            result.addFile(str(path), QSize(), mode)
    return result


def style_sheet() -> str:
    """The console's Qt style sheet, with ``url(icons/...)`` made absolute."""
    base = resources_dir()
    text = (base / _MARKER).read_text(encoding="utf-8")
    return text.replace("url(icons/", f"url({(base / 'icons').as_posix()}/")
