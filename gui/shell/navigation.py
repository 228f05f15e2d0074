"""The navigation pane at the bottom left: one button per view."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QButtonGroup, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from gui.widgets.resources import icon

# Views that work today; the others appear once they exist.
VIEWS: list[tuple[str, str]] = [("Home", "home"), ("Backup Infrastructure", "infrastructure"),
                                 ("History", "history")]


class NavigationPane(QWidget):
    viewChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("NavigationPane")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        self.buttons: dict[str, QToolButton] = {}
        for name, icon_name in VIEWS:
            button = QToolButton(self)
            button.setObjectName("NavButton")
            button.setText(name)
            button.setIcon(icon(icon_name))
            button.setIconSize(QSize(22, 22))
            button.setCheckable(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.setMinimumWidth(60)   # a narrow pane clips a label, never widens the window
            button.clicked.connect(lambda _=False, view=name: self.viewChanged.emit(view))
            self._group.addButton(button)
            self.buttons[name] = button
            layout.addWidget(button)
        self.buttons[VIEWS[0][0]].setChecked(True)

    @property
    def current(self) -> str:
        return next((name for name, b in self.buttons.items() if b.isChecked()), VIEWS[0][0])

    def show_view(self, name: str) -> None:
        """Switch to a view as a click on its button does."""
        self.buttons[name].setChecked(True)
        self.viewChanged.emit(name)
