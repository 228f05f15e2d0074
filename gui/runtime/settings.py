"""Where the console remembers its window layout (QSettings, per user)."""
from __future__ import annotations

from PySide6.QtCore import QSettings

ORGANIZATION = "agent-backup-console"
APPLICATION = "console"


def console_settings() -> QSettings:
    """An INI file in the user's configuration folder (on Linux
    ``~/.config/agent-backup-console/console.ini``)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                     ORGANIZATION, APPLICATION)
