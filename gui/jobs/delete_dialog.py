"""Confirmation before deleting jobs, optionally with their backups."""
from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox, QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget,
)



class DeleteJobDialog(QDialog):
    confirmed = Signal(bool)   # delete the backups from disk as well

    def __init__(self, jobs: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("DeleteJobDialog")
        self.setWindowTitle("Delete Job")
        self.setModal(True)
        self.jobs = list(jobs)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 12)
        layout.setSpacing(10)
        what = f"the job '{jobs[0]}'" if len(jobs) == 1 else f"the {len(jobs)} selected jobs"
        question = QLabel(f"Are you sure you want to delete {what}?", self)
        question.setObjectName("DialogQuestion")
        question.setWordWrap(True)
        layout.addWidget(question)
        note = QLabel("The job settings and session history are removed.", self)
        note.setWordWrap(True)
        layout.addWidget(note)
        self.delete_backups = QCheckBox("Also delete the job's backups (restore points) from disk",
                                        self)
        layout.addWidget(self.delete_backups)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.yes_button = QPushButton("Yes", self)
        self.no_button = QPushButton("No", self)
        self.no_button.setDefault(True)
        buttons.addWidget(self.yes_button)
        buttons.addWidget(self.no_button)
        layout.addLayout(buttons)
        self.yes_button.clicked.connect(self._confirm)
        self.no_button.clicked.connect(self.reject)
        self.setMinimumWidth(480)

    def _confirm(self) -> None:
        self.confirmed.emit(self.delete_backups.isChecked())
        self.accept()
