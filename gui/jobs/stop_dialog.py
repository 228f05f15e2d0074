"""The "Stop Backup Job" window: Immediately, Gracefully or Cancel.

Beyond the reference console it shows, for the jobs as they are right now,
which computers would still get a new restore point under each choice, how
long a graceful stop will take (each computer in progress: its progress and
time left, from its measured rate), and offers a middle ground: gracefully,
but immediately if not done within N minutes (the server keeps that deadline).

The window never changes size while open, so its buttons never move under
the pointer: every text that changes lives in a box of fixed size, which
scrolls when the text is longer than its room.
"""
from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QDialog, QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea,
    QSpinBox, QVBoxLayout, QWidget,
)

from core.models import StopMode
from core.api import StopPreview

from gui.widgets.resources import icon

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
POINTS_LINES = 3     # room for the computers that get a point, before it scrolls
ESTIMATE_LINES = 4   # room for the computers in progress and the total
DEFAULT_DEADLINE_MIN = 30
NOTE_LINES = 2       # room for the "no new restore point" note


def _names(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "none"


def _fixed_box(label: QLabel, width: int, lines: int, parent: QWidget) -> QScrollArea:
    """``label`` in a frameless box of fixed size that scrolls when needed."""
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    box = QScrollArea(parent)
    box.setObjectName("FixedTextBox")
    box.setFrameShape(QFrame.Shape.NoFrame)
    box.setWidgetResizable(True)
    box.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    box.setWidget(label)
    box.setFixedSize(width, label.fontMetrics().lineSpacing() * lines + 6)
    return box


def eta_text(seconds: float) -> str:
    """Time left, in words: 'less than a minute', 'about 3 min',
    'about 1 h 20 min' (rounded up). Not ``formatting.duration_text``,
    which says how long a session took."""
    if seconds < 60:
        return "less than a minute"
    minutes = -(-int(seconds) // 60)
    if minutes < 60:
        return f"about {minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"about {hours} h" + (f" {rest} min" if rest else "")


def estimate_text(previews: Sequence[StopPreview]) -> str:
    """Each computer in progress with its progress and time left, then how long
    until a graceful stop ends the job(s); 'estimating…' until there is a rate."""
    lines: list[str] = []
    for preview in previews:
        prefix = f"{preview.job} / " if len(previews) > 1 else ""
        for e in preview.estimates:
            left = "estimating…" if e.eta_seconds is None \
                else f"{eta_text(e.eta_seconds)} left"
            lines.append(f"{prefix}{e.computer}: {e.progress} %, {left}")
    if not lines:
        return "Nothing is being backed up now: the job stops at once."
    estimated = [p for p in previews if p.estimates]
    totals = [p.graceful_eta_seconds for p in estimated if p.graceful_eta_seconds is not None]
    if len(totals) < len(estimated):
        lines.append("Estimating when the job stops…")
    else:
        lines.append(f"{eta_text(max(totals))} until the job stops.".capitalize())
    return "\n".join(lines)


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
        self.points.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(_fixed_box(self.points, CHOICE_TEXT_WIDTH, POINTS_LINES, self), 3, 1)
        self.grid = layout
        layout.setRowStretch(9, 1)


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
        self._add_graceful_extras(self.gracefully)
        row.addWidget(self.immediately)
        row.addWidget(self.gracefully)
        layout.addLayout(row)

        self.nothing = QLabel("", self)
        self.nothing.setObjectName("StopNoPoint")
        layout.addWidget(_fixed_box(self.nothing, 2 * CHOICE_TEXT_WIDTH + 80, NOTE_LINES, self))
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
        self.setFixedSize(self.sizeHint())

    def _add_graceful_extras(self, card: _Choice) -> None:
        caption = QLabel("How long it takes:", card)
        caption.setObjectName("StopChoiceCaption")
        card.grid.addWidget(caption, 4, 1)
        self.estimate = QLabel(LOADING_TEXT, card)
        self.estimate.setObjectName("StopEstimate")
        card.grid.addWidget(_fixed_box(self.estimate, CHOICE_TEXT_WIDTH, ESTIMATE_LINES, card),
                            5, 1)
        row = QHBoxLayout()
        row.setSpacing(4)
        self.deadline = QCheckBox("Stop immediately if not done within", card)
        self.deadline.setObjectName("StopDeadline")
        self.deadline_minutes = QSpinBox(card)
        self.deadline_minutes.setObjectName("StopDeadlineMinutes")
        self.deadline_minutes.setRange(1, 24 * 60)
        self.deadline_minutes.setValue(DEFAULT_DEADLINE_MIN)
        self.deadline_minutes.setSuffix(" min")
        self.deadline_minutes.setEnabled(False)
        self.deadline.toggled.connect(self.deadline_minutes.setEnabled)
        row.addWidget(self.deadline)
        row.addWidget(self.deadline_minutes)
        row.addStretch(1)
        card.grid.addLayout(row, 6, 1)

    @property
    def escalate_after_s(self) -> float | None:
        """The graceful stop's deadline in seconds, or None when not asked for."""
        return self.deadline_minutes.value() * 60.0 if self.deadline.isChecked() else None

    def set_previews(self, previews: Sequence[StopPreview], gone: Sequence[str] = ()) -> None:
        """Show what each choice would do; ``gone`` lists jobs no longer running."""
        self.estimate.setText(estimate_text(previews) if previews else "—")
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
        still_running = bool(previews) or not gone
        self.immediately_button.setEnabled(still_running)
        self.gracefully_button.setEnabled(still_running)

    def _choose(self, mode: StopMode) -> None:
        self.mode = mode
        self.chosen.emit(mode)
        self.accept()
