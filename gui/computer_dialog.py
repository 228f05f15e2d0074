"""Add or edit one protected computer of a job: its name, its folder (with
Browse) and the agent that reads it. Only the local agent exists today; the
agent list is where remote computers will appear."""
from __future__ import annotations

import posixpath
from collections.abc import Iterable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox, QDialog, QDialogButtonBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel,
    QLineEdit, QPushButton, QVBoxLayout, QWidget,
)

from core.models import Computer

from .job_draft import computer_name_error, suggest_computer_name

AGENTS: list[tuple[str, str]] = [
    ("local", "Local agent: a folder on the backup server's machine"),
]


def full_path(folder: str) -> str:
    """``~/data`` -> ``/home/me/data``; trailing slashes dropped."""
    folder = posixpath.expanduser(folder.strip())
    return folder.rstrip("/") or ("/" if folder else "")


def folder_error(folder: str) -> str | None:
    folder = full_path(folder)
    if not folder:
        return "Choose the folder that holds the computer's files."
    if not posixpath.isabs(folder):
        return "Type in the folder's full path, starting with '/'."
    return None


class ComputerDialog(QDialog):
    chosen = Signal(object)   # Computer

    def __init__(self, taken: Iterable[str], computer: Computer | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ComputerDialog")
        self.setWindowTitle("Edit Computer" if computer else "Add Computer")
        self.setModal(True)
        self._taken = [n for n in taken if computer is None or n != computer.name]
        self._auto_name = computer is None   # the name follows the folder until typed
        self.file_dialog: QFileDialog | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 12)
        layout.setSpacing(10)
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        grid.addWidget(QLabel("Folder:", self), 0, 0)
        folder_row = QHBoxLayout()
        self.folder_edit = QLineEdit(self)
        self.folder_edit.setObjectName("ComputerFolder")
        self.folder_edit.setPlaceholderText("/srv/data")
        self.browse_button = QPushButton("Browse...", self)
        self.browse_button.setAutoDefault(False)
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.browse_button)
        grid.addLayout(folder_row, 0, 1)
        self.folder_error = QLabel("", self)
        self.folder_error.setObjectName("FieldError")
        self.folder_error.setWordWrap(True)
        grid.addWidget(self.folder_error, 1, 1)
        grid.addWidget(QLabel("Name:", self), 2, 0)
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("ComputerName")
        self.name_edit.setMaxLength(63)
        grid.addWidget(self.name_edit, 2, 1)
        self.name_error = QLabel("", self)
        self.name_error.setObjectName("FieldError")
        self.name_error.setWordWrap(True)
        grid.addWidget(self.name_error, 3, 1)
        grid.addWidget(QLabel("Agent:", self), 4, 0)
        self.agent_combo = QComboBox(self)
        for key, label in AGENTS:
            self.agent_combo.addItem(label, key)
        grid.addWidget(self.agent_combo, 4, 1)
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        layout.addWidget(self.buttons)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.setMinimumWidth(520)

        if computer is not None:
            self.name_edit.setText(computer.name)
            self.folder_edit.setText(computer.path)
            index = self.agent_combo.findData(computer.agent)
            if index >= 0:
                self.agent_combo.setCurrentIndex(index)
        self.name_edit.textEdited.connect(self._name_typed)
        self.name_edit.textChanged.connect(self._validate)
        self.folder_edit.textChanged.connect(self._folder_changed)
        self.browse_button.clicked.connect(self.browse)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self._touched = computer is not None
        self._validate()

    def _name_typed(self, _text: str) -> None:
        self._auto_name = False
        self._touched = True

    def _folder_changed(self, folder: str) -> None:
        self._touched = True
        if self._auto_name:
            self.name_edit.setText(suggest_computer_name(folder))
        self._validate()

    def errors(self) -> tuple[str | None, str | None]:
        return (computer_name_error(self.name_edit.text(), self._taken),
                folder_error(self.folder_edit.text()))

    def _validate(self) -> None:
        name_error, folder_problem = self.errors()
        shown = self._touched
        self.name_error.setText((name_error or "") if shown else "")
        self.folder_error.setText((folder_problem or "") if shown else "")
        self.ok_button.setEnabled(name_error is None and folder_problem is None)

    def browse(self) -> None:
        """Choose the folder in a file dialog (opened, never exec'd)."""
        if self.file_dialog is not None:
            self.file_dialog.raise_()
            return
        dialog = QFileDialog(self, "Choose the computer's folder", self.folder_edit.text())
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(lambda path: self.folder_edit.setText(path))
        self.file_dialog = dialog

        def closed(_result: int) -> None:
            if self.file_dialog is dialog:
                self.file_dialog = None
            dialog.deleteLater()

        dialog.finished.connect(closed)
        dialog.open()

    def computer(self) -> Computer:
        return Computer(name=self.name_edit.text().strip(),
                        path=full_path(self.folder_edit.text()),
                        agent=str(self.agent_combo.currentData()))

    def _accept(self) -> None:
        if any(self.errors()):
            return
        self.chosen.emit(self.computer())
        self.accept()
