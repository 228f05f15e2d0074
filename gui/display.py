"""Whether the console has a display to open its window on.

Without one, Qt's xcb plugin aborts with a message about missing libraries
('xcb-cursor0 is needed ... reinstalling the application may fix this'),
which sends the operator to reinstall a program that is fine. Checked before
QApplication is created, so the operator reads what is really wrong.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping

# Platform plugins that draw on a display server, and the variable naming it.
_NEEDS = {"xcb": ("DISPLAY",), "wayland": ("WAYLAND_DISPLAY",)}


def missing_display(env: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """One line saying no display was found, or None when there is one (or
    QT_QPA_PLATFORM names a plugin that needs none, such as offscreen or vnc)."""
    if not platform.startswith("linux"):
        return None   # macOS and Windows draw without a display server
    chosen = env.get("QT_QPA_PLATFORM", "").split(":", 1)[0].strip()
    plugin = next((name for name in _NEEDS if chosen.startswith(name)), None)
    if chosen and plugin is None:
        return None
    needed = _NEEDS[plugin] if plugin else ("DISPLAY", "WAYLAND_DISPLAY")
    if any(env.get(var) for var in needed):
        return None
    unset = " and ".join(needed)
    return (f"agent-console: no display found ({unset} {'is' if len(needed) == 1 else 'are'} "
            "not set): the console needs a graphical session. Everything it does also works "
            "without one through 'agent-jobs' (see 'agent-jobs --help'), or run the console "
            "where there is a display.")
