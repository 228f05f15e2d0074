"""The wizard's Computers step: the protected computers, in processing order."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import (
    QAbstractItemView, QHBoxLayout, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
    QWidget,
)

from core.models import Computer, JobDefinition, SshSettings

from gui.jobs.wizard import draft as F
from gui.jobs.wizard.computer_dialog import AGENT_TEXT, ComputerDialog, console_backend
from gui.jobs.wizard.fields import ErrorLabel, WizardPage


class ComputersPage(WizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.computers: list[Computer] = []
        self.ssh = SshSettings()   # the job's SSH settings, shared by its Linux computers
        self.computer_dialog: ComputerDialog | None = None
        self.layout_.addWidget(self._caption(
            "Protected computers, processed in this order. Each is a name and a folder on "
            "the backup server's machine, or a Linux computer the server reaches over SSH."))
        self.layout_.addSpacing(4)
        row = QHBoxLayout()
        self.table = QTreeWidget(self)
        self.table.setObjectName("ComputersList")
        self.table.setHeaderLabels(["Name", "Path", "Agent"])
        self.table.setRootIsDecorated(False)
        self.table.setColumnWidth(0, 140)
        self.table.setColumnWidth(1, 260)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        row.addWidget(self.table, 1)
        buttons = QVBoxLayout()
        self.add_button = QPushButton("Add...", self)
        self.edit_button = QPushButton("Edit...", self)
        self.remove_button = QPushButton("Remove", self)
        self.up_button = QPushButton("Up", self)
        self.down_button = QPushButton("Down", self)
        for button in (self.add_button, self.edit_button, self.remove_button):
            button.setAutoDefault(False)
            buttons.addWidget(button)
        buttons.addSpacing(12)
        for button in (self.up_button, self.down_button):
            button.setAutoDefault(False)
            buttons.addWidget(button)
        buttons.addStretch(1)
        row.addLayout(buttons)
        self.layout_.addLayout(row, 1)
        self.error = ErrorLabel(self)
        self.layout_.addWidget(self.error)

        self.add_button.clicked.connect(self.add)
        self.edit_button.clicked.connect(self.edit)
        self.remove_button.clicked.connect(self.remove)
        self.up_button.clicked.connect(lambda: self.move_computer(-1))
        self.down_button.clicked.connect(lambda: self.move_computer(1))
        self.table.itemDoubleClicked.connect(lambda *_: self.edit())
        self.table.currentItemChanged.connect(lambda *_: self._update_buttons())
        self._update_buttons()

    # -- list ---------------------------------------------------------------------
    def names(self) -> list[str]:
        return [c.name for c in self.computers]

    def current_row(self) -> int:
        item = self.table.currentItem()
        return self.table.indexOfTopLevelItem(item) if item is not None else -1

    def _fill(self, select: int = -1) -> None:
        self.table.clear()
        for computer in self.computers:
            item = QTreeWidgetItem([computer.name, computer.path,
                                    AGENT_TEXT.get(computer.agent, computer.agent)])
            item.setToolTip(1, computer.path)
            self.table.addTopLevelItem(item)
        chosen = self.table.topLevelItem(select) if 0 <= select < len(self.computers) else None
        if chosen is not None:
            self.table.setCurrentItem(chosen)
        self._update_buttons()
        self.changed.emit()

    def _update_buttons(self) -> None:
        row = self.current_row()
        self.edit_button.setEnabled(row >= 0)
        self.remove_button.setEnabled(row >= 0)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < len(self.computers) - 1)

    def add_computer(self, computer: Computer) -> None:
        self.computers.append(computer)
        self._fill(len(self.computers) - 1)

    def replace_computer(self, row: int, computer: Computer) -> None:
        if 0 <= row < len(self.computers):
            self.computers[row] = computer
            self._fill(row)

    def remove(self) -> None:
        row = self.current_row()
        if row >= 0:
            del self.computers[row]
            self._fill(min(row, len(self.computers) - 1))

    def move_computer(self, delta: int) -> None:
        """Move the current computer ``delta`` places (not QWidget.move, which it hid)."""
        row = self.current_row()
        target = row + delta
        if row < 0 or not 0 <= target < len(self.computers):
            return
        self.computers[row], self.computers[target] = self.computers[target], self.computers[row]
        self._fill(target)

    # -- the computer window ------------------------------------------------------------
    def add(self) -> None:
        self._open_dialog(None)

    def edit(self) -> None:
        row = self.current_row()
        if row >= 0:
            self._open_dialog(row)

    def _open_dialog(self, row: int | None) -> None:
        if self.computer_dialog is not None:
            return
        computer = self.computers[row] if row is not None else None
        backend = console_backend(self)
        dialog = ComputerDialog(self.names(), computer, self, ssh=self.ssh,
                                runner=backend[0] if backend else None,
                                test_computer=backend[1].test_computer if backend else None)

        def chosen(c: Computer) -> None:
            if c.agent == "ssh":
                self.ssh = dialog.ssh_settings()
            if row is None:
                self.add_computer(c)
            else:
                self.replace_computer(row, c)

        dialog.chosen.connect(chosen)
        self.computer_dialog = dialog

        def closed(_result: int) -> None:
            if self.computer_dialog is dialog:
                self.computer_dialog = None
            dialog.deleteLater()

        dialog.finished.connect(closed)
        dialog.open()

    # -- page -----------------------------------------------------------------------------
    def load(self, definition: JobDefinition | None) -> None:
        self.computers = list(definition.computers) if definition else []
        self.ssh = definition.ssh if definition else SshSettings()
        self._fill(0 if self.computers else -1)

    def write(self, draft: dict[str, Any]) -> None:
        draft[F.COMPUTERS] = [c.model_dump() for c in self.computers]
        draft[F.SSH] = self.ssh.model_dump()

    def show_errors(self, errors: Mapping[str, str]) -> None:
        self.error.show_error(errors.get(F.COMPUTERS) or errors.get(F.SSH))
