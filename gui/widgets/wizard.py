"""A wizard window in the reference console's style: a header with the
step's title and description on top, the list of steps on the left, the
step's page in the middle, and Back, Next, Finish and Cancel at the bottom.

Steps already seen can be reached by clicking them in the list (all of them
when ``all_reachable``, as when editing an existing job). Each step may be
marked as having problems; the window never decides validity itself.

Cancel (or Esc, or closing the window) asks first when the wizard says it has
settings the operator entered (:meth:`WizardFrame.has_unsaved_input`).
"""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QDialog, QFrame, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMessageBox,
    QPushButton, QStackedWidget, QVBoxLayout, QWidget,
)

from gui.widgets.resources import icon

STEP_LIST_WIDTH = 168
HEADER_ICON = 40
DESCRIPTION_LINES = 2   # the header's room for a step's description


class WizardStep:
    def __init__(self, title: str, description: str, page: QWidget) -> None:
        self.title = title
        self.description = description
        self.page = page


class WizardFrame(QDialog):
    stepChanged = Signal(int)

    def __init__(self, title: str, header_icon: str, parent: QWidget | None = None, *,
                 all_reachable: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName("Wizard")
        self.setWindowTitle(title)
        self.setModal(True)
        self.steps: list[WizardStep] = []
        self._all_reachable = all_reachable
        self._seen = 0            # the furthest step shown so far
        self._problems: set[int] = set()

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)

        header = QFrame(self)
        header.setObjectName("WizardHeader")
        head = QHBoxLayout(header)
        head.setContentsMargins(18, 12, 18, 12)
        head.setSpacing(14)
        badge = QLabel(header)
        badge.setPixmap(icon(header_icon).pixmap(HEADER_ICON, HEADER_ICON))
        badge.setAlignment(Qt.AlignmentFlag.AlignTop)
        head.addWidget(badge)
        texts = QVBoxLayout()
        texts.setSpacing(3)
        self.title_label = QLabel(header)
        self.title_label.setObjectName("WizardTitle")
        self.description_label = QLabel(header)
        self.description_label.setObjectName("WizardDescription")
        self.description_label.setWordWrap(True)
        # Two lines reserved, whichever step shows: a description that wraps never pushes
        # the page down under the pointer.
        self.description_label.ensurePolished()
        self.description_label.setFixedHeight(
            DESCRIPTION_LINES * self.description_label.fontMetrics().lineSpacing() + 2)
        self.description_label.setAlignment(Qt.AlignmentFlag.AlignLeft
                                            | Qt.AlignmentFlag.AlignTop)
        texts.addWidget(self.title_label)
        texts.addWidget(self.description_label)
        texts.addStretch(1)
        head.addLayout(texts, 1)
        outer.addWidget(header)

        self.notice = QLabel(self)
        self.notice.setObjectName("WizardNotice")
        self.notice.setWordWrap(True)
        self.notice.hide()
        outer.addWidget(self.notice)

        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(0)
        self.step_list = QListWidget(self)
        self.step_list.setObjectName("WizardSteps")
        self.step_list.setFixedWidth(STEP_LIST_WIDTH)
        self.step_list.setIconSize(QSize(14, 14))
        self.step_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.step_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.step_list.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.step_list.currentRowChanged.connect(self._on_step_clicked)
        body.addWidget(self.step_list)
        self.stack = QStackedWidget(self)
        self.stack.setObjectName("WizardPages")
        body.addWidget(self.stack, 1)
        outer.addLayout(body, 1)

        footer = QFrame(self)
        footer.setObjectName("WizardFooter")
        buttons = QHBoxLayout(footer)
        buttons.setContentsMargins(12, 10, 12, 10)
        buttons.addStretch(1)
        self.back_button = QPushButton("Back", footer)
        self.next_button = QPushButton("Next", footer)
        self.finish_button = QPushButton("Finish", footer)
        self.cancel_button = QPushButton("Cancel", footer)
        for button in (self.back_button, self.next_button, self.finish_button,
                       self.cancel_button):
            button.setAutoDefault(False)
            buttons.addWidget(button)
        buttons.insertSpacing(buttons.indexOf(self.finish_button), 8)
        outer.addWidget(footer)

        self.back_button.clicked.connect(lambda: self.go_to(self.current - 1))
        self.next_button.clicked.connect(lambda: self.go_to(self.current + 1))
        self.cancel_button.clicked.connect(self.reject)
        self._finish_allowed = False
        self._busy = False
        self.discard_question: QMessageBox | None = None   # "Discard ...?" while it shows
        self._discarding = False

    # -- steps -------------------------------------------------------------------------
    def add_step(self, title: str, description: str, page: QWidget) -> None:
        self.steps.append(WizardStep(title, description, page))
        self.stack.addWidget(page)
        item = QListWidgetItem(title, self.step_list)
        item.setSizeHint(QSize(STEP_LIST_WIDTH - 8, 30))
        if len(self.steps) == 1:
            self.go_to(0)
        self._update_steps()

    @property
    def current(self) -> int:
        return self.stack.currentIndex()

    def step_titles(self) -> list[str]:
        return [step.title for step in self.steps]

    def go_to(self, index: int) -> None:
        if not 0 <= index < len(self.steps):
            return
        self._seen = max(self._seen, index)
        step = self.steps[index]
        self.stack.setCurrentIndex(index)
        self.title_label.setText(step.title)
        self.description_label.setText(step.description)
        self._update_steps()
        self._update_buttons()
        self.stepChanged.emit(index)

    def go_to_step(self, title: str) -> None:
        self.go_to(self.step_titles().index(title))

    def _reachable(self, index: int) -> bool:
        return self._all_reachable or index <= self._seen

    def _on_step_clicked(self, row: int) -> None:
        if row != self.current and row >= 0 and self._reachable(row) and not self._busy:
            self.go_to(row)
        else:
            self._update_steps()

    def set_problems(self, indexes: set[int]) -> None:
        """Mark the steps that have something to fix."""
        self._problems = set(indexes)
        self._update_steps()

    def _update_steps(self) -> None:
        self.step_list.blockSignals(True)
        try:
            for index in range(self.step_list.count()):
                item = self.step_list.item(index)
                font = item.font()
                font.setBold(index == self.current)
                item.setFont(font)
                reachable = self._reachable(index)
                flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                item.setFlags(flags if reachable else Qt.ItemFlag.NoItemFlags)
                warn = index in self._problems and index <= max(self._seen, self.current)
                item.setIcon(icon("warning") if warn else QIcon())
                item.setToolTip("Something on this step needs fixing" if warn else "")
            self.step_list.setCurrentRow(self.current)
        finally:
            self.step_list.blockSignals(False)

    # -- buttons -----------------------------------------------------------------------
    def set_finish_allowed(self, allowed: bool) -> None:
        self._finish_allowed = allowed
        self._update_buttons()

    def set_busy(self, busy: bool) -> None:
        """While saving: nothing can be clicked but Cancel is kept off too."""
        self._busy = busy
        self.stack.setEnabled(not busy)
        self.cancel_button.setEnabled(not busy)
        self._update_buttons()

    @property
    def busy(self) -> bool:
        return self._busy

    def _update_buttons(self) -> None:
        last = self.current == len(self.steps) - 1
        self.back_button.setEnabled(not self._busy and self.current > 0)
        self.next_button.setEnabled(not self._busy and not last)
        self.finish_button.setEnabled(not self._busy and self._finish_allowed)
        default = self.finish_button if last else self.next_button
        for button in (self.next_button, self.finish_button):
            button.setDefault(button is default)

    def show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    # -- cancel ------------------------------------------------------------------------
    def has_unsaved_input(self) -> bool:
        """Whether Cancel should ask before the operator's settings are thrown away."""
        return False

    def discard_text(self) -> str:
        return "Discard the settings you have entered?"

    def reject(self) -> None:
        if self._discarding or self._busy or not self.has_unsaved_input():
            super().reject()
            return
        if self.discard_question is not None:
            self.discard_question.raise_()
            return
        box = QMessageBox(QMessageBox.Icon.Question, self.windowTitle(), self.discard_text(),
                          QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                          self)
        box.setObjectName("DiscardQuestion")
        box.setInformativeText("Nothing is saved until you click Finish. Cancel goes back "
                               "to the wizard.")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self.discard_question = box

        def answered(_result: int) -> None:
            self.discard_question = None
            if box.clickedButton() is box.button(QMessageBox.StandardButton.Discard):
                self._discarding = True
                super(WizardFrame, self).reject()

        box.finished.connect(answered)
        box.open()
