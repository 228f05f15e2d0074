"""The factory of the console's actions, which the ribbon, the context menus,
the main menu and the keyboard share. Each node keeps its own actions in its
``actions`` module. A shortcut shows in the action's menus and in its tooltip.

An action that changes something says which permission it needs (``needs``):
when the server says the user's role lacks it (``GET /api/v1/me``), the action
stays disabled whatever the selection, and its tooltip says why."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence

from core.models import PERMISSION_TEXT, Me, Permission
from gui.widgets.resources import icon

KeySpec = QKeySequence | QKeySequence.StandardKey | Qt.Key | str


class GatedAction(QAction):
    """A QAction that a missing permission keeps disabled: ``setEnabled`` (from the
    selection) is remembered and applied only while the role allows the action."""

    needs: Permission | None = None
    _wanted = False
    _denied: str | None = None
    _tip = ""

    def setEnabled(self, enabled: bool) -> None:   # noqa: N802 (Qt's name)
        self._wanted = bool(enabled)
        super().setEnabled(self._wanted and self._denied is None)

    def set_tip(self, tip: str) -> None:
        self._tip = tip
        shown = tip if self._denied is None else f"{tip}. {self._denied}"
        self.setToolTip(shown)
        self.setStatusTip(shown)

    @property
    def denied(self) -> str | None:
        """Why the user's role does not allow this action (None: it does)."""
        return self._denied

    def permit(self, me: Me | None) -> None:
        """Follow the role in ``me`` (None: not known, everything allowed)."""
        if self.needs is None or me is None or self.needs in me.permissions:
            self._denied = None
        else:
            self._denied = (f"Your role ({me.role.label}) does not allow you to "
                            f"{PERMISSION_TEXT[self.needs]}; ask an administrator.")
        self.set_tip(self._tip)
        super().setEnabled(self._wanted and self._denied is None)


def permit_all(actions: Iterable[QAction], me: Me | None) -> None:
    """Apply the user's role to every gated action among ``actions``."""
    for action in actions:
        if isinstance(action, GatedAction):
            action.permit(me)


def make_action(parent: QObject, icon_name: str | None, text: str, tip: str, *,
                keys: Sequence[KeySpec] = (), key_text: str | None = None,
                enabled: bool = False, needs: Permission | None = None) -> GatedAction:
    action = GatedAction(icon(icon_name), text, parent) if icon_name \
        else GatedAction(text, parent)
    action.needs = needs
    sequences = [QKeySequence(key) for key in keys]
    if sequences:
        action.setShortcuts(sequences)
        shown = key_text or sequences[0].toString(QKeySequence.SequenceFormat.NativeText)
        tip = f"{tip} ({shown})"
    action.set_tip(tip)
    action.setEnabled(enabled)
    return action
