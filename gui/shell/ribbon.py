"""A small home-made ribbon: tabs of groups of big buttons.

Each button shows its action's icon above its label; each group shows its
name below its buttons. A contextual tab (the Job tab) is shown only while
it applies, and becomes current when it appears; as in the reference
console, a coloured header above it names its group ("Job Tools").
"""
from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QAction, QColor, QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QFrame, QHBoxLayout, QLabel, QMenu, QSizePolicy, QTabBar, QTabWidget, QToolButton,
    QVBoxLayout, QWidget,
)

from gui.widgets.resources import icon

BUTTON_ICON = QSize(32, 32)
CONTEXTUAL_TAB_COLOR = QColor("#00953A")
CONTEXTUAL_HEADER_COLOR = QColor("#00B336")
CONTEXTUAL_TAB_TINT = QColor("#E8F6ED")
HEADER_HEIGHT = 18   # the strip above the tabs (style.qss: QTabBar::tab margin-top)


class RibbonTabBar(QTabBar):
    """Tabs with a strip above them; a contextual tab's group header is
    painted in that strip, over the tab."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("RibbonTabBar")
        self.headers: dict[int, str] = {}   # tab index -> group header, e.g. "Job Tools"

    def header_rect(self, index: int) -> QRect:
        tab = self.tabRect(index)
        return QRect(tab.left(), 0, tab.width(), HEADER_HEIGHT)

    def tabSizeHint(self, index: int) -> QSize:  # noqa: N802
        hint = super().tabSizeHint(index)
        header = self.headers.get(index)
        if header:
            font = self.font()
            font.setBold(True)
            hint.setWidth(max(hint.width(), QFontMetrics(font).horizontalAdvance(header) + 24))
        return hint

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        for index in self.headers:
            if self.isTabVisible(index) and index != self.currentIndex():
                tab = self.tabRect(index)
                painter.fillRect(QRect(tab.left(), HEADER_HEIGHT, tab.width(),
                                       tab.height() - HEADER_HEIGHT), CONTEXTUAL_TAB_TINT)
        painter.end()
        super().paintEvent(event)
        painter = QPainter(self)
        font = self.font()
        font.setBold(True)
        font.setPointSizeF(max(6.0, font.pointSizeF() - 1))
        painter.setFont(font)
        for index, header in self.headers.items():
            if not self.isTabVisible(index):
                continue
            rect = self.header_rect(index)
            painter.fillRect(rect, CONTEXTUAL_HEADER_COLOR)
            painter.setPen(QColor("#FFFFFF"))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, header)
        painter.end()


class RibbonButton(QToolButton):
    def __init__(self, action: QAction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("RibbonButton")
        self.setDefaultAction(action)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        self.setIconSize(BUTTON_ICON)
        self.setAutoRaise(True)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        # an action that gives its place to another (Pause and Resume) hides its button
        self.setVisible(action.isVisible())
        action.visibleChanged.connect(lambda: self.setVisible(action.isVisible()))


class RibbonGroup(QFrame):
    def __init__(self, title: str, actions: Iterable[QAction],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("RibbonGroup")
        self.title = title
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(0)
        row = QHBoxLayout()
        row.setSpacing(2)
        self.buttons: list[RibbonButton] = []
        for action in actions:
            button = RibbonButton(action, self)
            self.buttons.append(button)
            row.addWidget(button)
        layout.addLayout(row, 1)
        label = QLabel(title, self)
        label.setObjectName("RibbonGroupTitle")
        label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom)
        layout.addWidget(label)


class RibbonPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("RibbonPage")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(4, 2, 4, 0)
        self._layout.setSpacing(0)
        self._layout.addStretch(1)
        self.groups: list[RibbonGroup] = []

    def add_group(self, title: str, actions: Iterable[QAction]) -> RibbonGroup:
        group = RibbonGroup(title, actions, self)
        self._layout.insertWidget(self._layout.count() - 1, group)
        self.groups.append(group)
        return group


class Ribbon(QTabWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Ribbon")
        self.setTabBar(RibbonTabBar(self))
        self.setDocumentMode(True)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.main_menu = QMenu(self)
        self._menu_button = QToolButton(self)
        self._menu_button.setObjectName("MainMenuButton")
        self._menu_button.setIcon(icon("menu"))
        self._menu_button.setMenu(self.main_menu)
        self._menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self._menu_button.setToolTip("Main menu")
        self.setCornerWidget(self._menu_button, Qt.Corner.TopLeftCorner)

    def add_page(self, title: str, *, contextual: str | None = None) -> RibbonPage:
        """A tab; ``contextual`` names its group header (e.g. "Job Tools"),
        and such a tab stays hidden until :meth:`show_contextual`."""
        page = RibbonPage(self)
        index = self.addTab(page, title)
        if contextual:
            bar = self.tabBar()
            assert isinstance(bar, RibbonTabBar)
            bar.headers[index] = contextual
            bar.setTabTextColor(index, CONTEXTUAL_TAB_COLOR)
            self.setTabVisible(index, False)
        return page

    def contextual_header(self, page: RibbonPage) -> str | None:
        """The group header shown above the page's tab, if it is showing."""
        bar = self.tabBar()
        index = self.indexOf(page)
        if not isinstance(bar, RibbonTabBar) or not self.isTabVisible(index):
            return None
        return bar.headers.get(index)

    def show_contextual(self, page: RibbonPage, visible: bool) -> None:
        """Show the page's tab and make it current, or hide it."""
        index = self.indexOf(page)
        was_visible = self.isTabVisible(index)
        self.setTabVisible(index, visible)
        if visible and not was_visible:
            self.setCurrentIndex(index)
        elif not visible and self.currentIndex() == index:
            self.setCurrentIndex(0)

    def buttons(self) -> list[RibbonButton]:
        return self.findChildren(RibbonButton)

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(hint.width(), max(hint.height(), 118))
