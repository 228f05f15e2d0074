"""The "Stop Backup Job" window: Immediately, Gracefully or Cancel.

Beyond the reference console it shows, for the jobs as they are right now,
which computers would still get a new restore point under each choice.
"""
from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog, QFrame, QGridLayout, QHBoxLayout, QLabel, QLayout, QPushButton, QVBoxLayout,
    QWidget,
)

from core.models import StopMode
from core.api import StopPreview

from .resources import icon

IMMEDIATELY_TEXT = (
    "Stop now. Computers already backed up keep their new restore points. Computers "
    "being backed up right now, and those not started yet, get none. The session "
    "ends as Failed."
)
GRACEFULLY_TEXT = (
    "Finish the computers being backed up right now, then stop. They get new restore "
    "points, like the computers already backed up. Computers not started yet are "
    "skipped."
)
KEPT_TEXT = "Restore points created earlier are kept in either case."
LOADING_TEXT = "Checking the job's computers…"
CHOICE_TEXT_WIDTH = 260


def _names(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "none"


def _per_job(previews: Sequence[StopPreview], attr: str) -> str:
    if len(previews) == 1:
        return _names(getattr(previews[0], attr))
    return "\n".join(f"{p.job}: {_names(getattr(p, attr))}" for p in previews)


class _Choice(QFrame):
    """One choice's explanation and its computers that would get a point."""

    def __init__(self, title: str, text: str, icon_name: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("StopChoice")
        layout = QGridLayout(self)
        layout.setContentsMargins(10, 8, 10, 10)
        layout.setHorizontalSpacing(8)
        badge = QLabel(self)
        badge.setPixmap(icon(icon_name).pixmap(20, 20))
        badge.setAlignment(Qt.AlignmentFlag.AlignTop)
        layout.addWidget(badge, 0, 0)
        heading = QLabel(title, self)
        heading.setObjectName("StopChoiceTitle")
        layout.addWidget(heading, 0, 1)
        body = QLabel(text, self)
        body.setWordWrap(True)
        body.setFixedWidth(CHOICE_TEXT_WIDTH)
        layout.addWidget(body, 1, 1)
        caption = QLabel("New restore points for:", self)
        caption.setObjectName("StopChoiceCaption")
        layout.addWidget(caption, 2, 1)
        self.points = QLabel(LOADING_TEXT, self)
        self.points.setObjectName("StopChoicePoints")
        self.points.setWordWrap(True)
        self.points.setFixedWidth(CHOICE_TEXT_WIDTH)
        self.points.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.points, 3, 1)
        layout.setRowStretch(4, 1)


class StopJobDialog(QDialog):
    chosen = Signal(object)   # StopMode

    def __init__(self, jobs: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("StopJobDialog")
        self.setWindowTitle("Stop Backup Job")
        self.setModal(True)
        self.jobs = list(jobs)
        self.mode: StopMode | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 12)
        layout.setSpacing(10)
        what = f"the job '{jobs[0]}'" if len(jobs) == 1 else f"{len(jobs)} jobs"
        question = QLabel(f"How do you want to stop {what}?", self)
        question.setObjectName("DialogQuestion")
        layout.addWidget(question)

        row = QHBoxLayout()
        row.setSpacing(10)
        self.immediately = _Choice("Immediately", IMMEDIATELY_TEXT, "stop", self)
        self.gracefully = _Choice("Gracefully", GRACEFULLY_TEXT, "success", self)
        row.addWidget(self.immediately)
        row.addWidget(self.gracefully)
        layout.addLayout(row)

        self.nothing = QLabel("", self)
        self.nothing.setObjectName("StopNoPoint")
        self.nothing.setWordWrap(True)
        self.nothing.setFixedWidth(2 * CHOICE_TEXT_WIDTH + 80)
        self.nothing.hide()
        layout.addWidget(self.nothing)
        kept = QLabel(KEPT_TEXT, self)
        kept.setObjectName("DialogNote")
        layout.addWidget(kept)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.immediately_button = QPushButton("Immediately", self)
        self.gracefully_button = QPushButton("Gracefully", self)
        self.cancel_button = QPushButton("Cancel", self)
        for button in (self.immediately_button, self.gracefully_button, self.cancel_button):
            button.setAutoDefault(False)
            buttons.addWidget(button)
        self.gracefully_button.setDefault(True)
        layout.addLayout(buttons)

        self.immediately_button.clicked.connect(lambda: self._choose(StopMode.IMMEDIATELY))
        self.gracefully_button.clicked.connect(lambda: self._choose(StopMode.GRACEFULLY))
        self.cancel_button.clicked.connect(self.reject)
        layout.setSizeConstraint(QLayout.SizeConstraint.SetFixedSize)

    def set_previews(self, previews: Sequence[StopPreview], gone: Sequence[str] = ()) -> None:
        """Show what each choice would do; ``gone`` lists jobs no longer running."""
        if previews:
            self.immediately.points.setText(_per_job(previews, "immediately_gets_point"))
            self.gracefully.points.setText(_per_job(previews, "gracefully_gets_point"))
        else:
            for choice in (self.immediately, self.gracefully):
                choice.points.setText("none")
        notes: list[str] = []
        not_started = [p for p in previews if p.not_started]
        if not_started:
            notes.append("No new restore point in either case (not started yet): "
                         + _per_job(not_started, "not_started").replace("\n", "; "))
        if gone and not previews:
            what = f"The job '{gone[0]}' has" if len(gone) == 1 else "These jobs have"
            notes.append(f"{what} already finished: there is nothing to stop.")
        elif gone:
            notes.append("No longer running: " + ", ".join(gone))
        self.nothing.setText("\n".join(notes))
        self.nothing.setVisible(bool(notes))
        still_running = bool(previews) or not gone
        self.immediately_button.setEnabled(still_running)
        self.gracefully_button.setEnabled(still_running)

    def _choose(self, mode: StopMode) -> None:
        self.mode = mode
        self.chosen.emit(mode)
        self.accept()
