"""What the logged-in user's role lets them do, applied to the console's shared
actions: a command the role does not allow stays greyed out whatever the
selection, and its tooltip says why (as the reference console does). The
server checks every call anyway; this only keeps the operator from trying."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtGui import QAction

from core.models import PERMISSION_TEXT, Permission

TIP_PROPERTY = "grantsTip"


@dataclass(frozen=True)
class Grants:
    role: str                                   # the role's name, e.g. "Viewer"
    permissions: frozenset[Permission] | None   # None: everything (the server's own user)

    @classmethod
    def everything(cls) -> Grants:
        return cls("Administrator", None)

    def allows(self, permission: Permission) -> bool:
        return self.permissions is None or permission in self.permissions

    def why_not(self, permission: Permission) -> str:
        return (f"Your role ({self.role}) does not allow you to {PERMISSION_TEXT[permission]}. "
                "Ask a backup administrator to change your role.")

    def lock(self, guarded: Iterable[tuple[QAction, Permission]]) -> None:
        """Keep each action the role does not allow disabled, with the reason as its tip."""
        for action, permission in guarded:
            if self.allows(permission):
                continue
            why = self.why_not(permission)
            action.setToolTip(why)
            action.setStatusTip(why)
            action.setProperty(TIP_PROPERTY, why)
            _keep_disabled(action)


def _keep_disabled(action: QAction) -> None:
    """Whatever later enables it (a selection), it is switched off again at once."""

    def off() -> None:
        if action.isEnabled():
            action.setEnabled(False)

    action.changed.connect(off)
    off()
