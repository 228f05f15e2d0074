"""The "Stop Backup Job" window: Immediately, Gracefully, Pause (Resume when paused) or
Cancel.

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
from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QDialog, QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea,
    QSpinBox, QVBoxLayout, QWidget,
)

from core.models import SessionInfo, StopMode
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
PAUSE_TEXT = ("Or pause: the computers being backed up hold where they are and keep what "
              "they sent; nothing new starts. Resume goes on where they stopped.")
PAUSED_TEXT = ("The job is paused. Resume goes on where its computers stopped; Immediately "
               "gives them no point, Gracefully lets them finish.")
LOADING_TEXT = "Checking the job's computers…"
CHOICE_TEXT_WIDTH = 260
POINTS_LINES = 3     # room for the computers that get a point, before it scrolls
ESTIMATE_LINES = 4   # room for the computers in progress and the total (one job)
ESTIMATE_LINES_PER_JOB = 3   # several jobs: each job's name and its computers in progress
MAX_ESTIMATE_LINES = 10
MULTI_JOB_TEXT_WIDTH = 320   # several jobs: their names take room in every line
QUESTION_LINES = 2   # the question, or what is under way, or that the job has finished
DEFAULT_DEADLINE_MIN = 30
NOTE_LINES = 2       # room for the "no new restore point" note


def _names(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "none"


def _fixed_box(label: QLabel, width: int, lines: int, parent: QWidget) -> QScrollArea:
    """``label`` in a frameless box of fixed size that scrolls when needed."""
    label.setWordWrap(True)
    label.ensurePolished()   # its style sheet's font, before its lines are measured
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
    """Each computer in progress with its progress and time left (under its job's name when
    there are several), then how long until a graceful stop ends the job(s); 'estimating…'
    until there is a rate."""
    lines: list[str] = []
    several = len(previews) > 1
    for preview in previews:
        if several and preview.estimates:
            lines.append(f"{preview.job}:")
        for e in preview.estimates:
            left = "estimating…" if e.eta_seconds is None \
                else f"{eta_text(e.eta_seconds)} left"
            lines.append(f"{'  ' if several else ''}{e.computer}: {e.progress} %, {left}")
    if not lines:
        return "Nothing is being backed up now: the job stops at once."
    estimated = [p for p in previews if p.estimates]
    totals = [p.graceful_eta_seconds for p in estimated if p.graceful_eta_seconds is not None]
    jobs = "jobs stop" if several else "job stops"
    if len(totals) < len(estimated):
        lines.append(f"Estimating when the {jobs}…")
    else:
        lines.append(f"{eta_text(max(totals))} until the {jobs}.".capitalize())
    return "\n".join(lines)


def _time(value: datetime | None) -> str:
    """A time of today as the operator reads it: 08:41."""
    return value.astimezone().strftime("%H:%M") if value is not None else ""


def under_way_text(preview: StopPreview) -> str:
    """A stop already asked for: since when, by whom, and what it still waits for."""
    if preview.stop_mode is None:
        return ""
    since = f" since {_time(preview.stop_requested_at)}" if preview.stop_requested_at else ""
    by = f" ({preview.stopped_by})" if preview.stopped_by else ""
    if preview.stop_mode is StopMode.IMMEDIATELY:
        return (f"An immediate stop of '{preview.job}' is under way{since}{by}: the computers "
                "in progress are being cancelled.")
    waits = (f"it waits for {_names(preview.in_progress)} to finish" if preview.in_progress
             else "it is ending the session")
    deadline = f", and stops immediately at {_time(preview.escalate_at)}" \
        if preview.escalate_at else ""
    return (f"A graceful stop of '{preview.job}' is under way{since}{by}: "
            f"{waits}{deadline}.")


def got_points(session: SessionInfo) -> list[str]:
    return [t.computer for t in session.tasks if t.status.produced_point]


def finished_text(session: SessionInfo) -> str:
    """A job that ended while the window was open: how, and who got a restore point."""
    result = session.result.value if session.result else "ended"
    at = f" at {_time(session.ended)}" if session.ended else ""
    return (f"The job '{session.job}' has finished ({result}{at}): there is nothing to stop. "
            f"New restore points for: {_names(got_points(session))}.")


def _per_job(previews: Sequence[StopPreview], attr: str) -> str:
    if len(previews) == 1:
        return _names(getattr(previews[0], attr))
    return "\n".join(f"{p.job}: {_names(getattr(p, attr))}" for p in previews)


class _Choice(QFrame):
    """One choice's explanation and its computers that would get a point."""

    def __init__(self, title: str, text: str, icon_name: str, parent: QWidget,
                 width: int = CHOICE_TEXT_WIDTH) -> None:
        super().__init__(parent)
        self.setObjectName("StopChoice")
        self.text_width = width
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
        body.setFixedWidth(width)
        layout.addWidget(body, 1, 1)
        caption = QLabel("New restore points for:", self)
        caption.setObjectName("StopChoiceCaption")
        layout.addWidget(caption, 2, 1)
        self.points = QLabel(LOADING_TEXT, self)
        self.points.setObjectName("StopChoicePoints")
        self.points.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(_fixed_box(self.points, width, POINTS_LINES, self), 3, 1)
        self.grid = layout
        layout.setRowStretch(9, 1)


class StopJobDialog(QDialog):
    chosen = Signal(object)   # StopMode
    pause_chosen = Signal(bool)   # True: pause, False: resume

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
        self.question_text = f"How do you want to stop {what}?"
        self.question = QLabel(self.question_text, self)
        self.question.setObjectName("DialogQuestion")

        width = CHOICE_TEXT_WIDTH if len(jobs) == 1 else MULTI_JOB_TEXT_WIDTH
        row = QHBoxLayout()
        row.setSpacing(10)
        self.immediately = _Choice("Immediately", IMMEDIATELY_TEXT, "stop", self, width)
        self.gracefully = _Choice("Gracefully", GRACEFULLY_TEXT, "success", self, width)
        self._add_graceful_extras(self.gracefully, len(jobs))
        # What is under way (a stop already asked for, a job that finished) replaces the
        # question, in a box of fixed size: the window keeps its size.
        layout.addWidget(_fixed_box(self.question, 2 * width + 80, QUESTION_LINES, self))
        row.addWidget(self.immediately)
        row.addWidget(self.gracefully)
        layout.addLayout(row)

        self.nothing = QLabel("", self)
        self.nothing.setObjectName("StopNoPoint")
        layout.addWidget(_fixed_box(self.nothing, 2 * width + 80, NOTE_LINES, self))
        kept = QLabel(KEPT_TEXT, self)
        kept.setObjectName("DialogNote")
        layout.addWidget(kept)
        self.pause_note = QLabel(PAUSE_TEXT, self)
        self.pause_note.setObjectName("StopPauseNote")
        layout.addWidget(_fixed_box(self.pause_note, 2 * width + 80, NOTE_LINES, self))

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.immediately_button = QPushButton("Immediately", self)
        self.gracefully_button = QPushButton("Gracefully", self)
        self.pause_button = QPushButton(icon("pause"), "Pause", self)
        self.pause_button.setObjectName("StopPauseButton")
        self.pausing = True   # the button pauses (False: the jobs are paused, it resumes)
        self.cancel_button = QPushButton("Cancel", self)
        for button in (self.immediately_button, self.gracefully_button, self.pause_button,
                       self.cancel_button):
            button.setAutoDefault(False)
            buttons.addWidget(button)
        self.gracefully_button.setDefault(True)
        layout.addLayout(buttons)

        self.immediately_button.clicked.connect(lambda: self._choose(StopMode.IMMEDIATELY))
        self.gracefully_button.clicked.connect(lambda: self._choose(StopMode.GRACEFULLY))
        self.pause_button.clicked.connect(self._pause)
        self.cancel_button.clicked.connect(self.reject)
        self.setFixedSize(self.sizeHint())

    def _add_graceful_extras(self, card: _Choice, jobs: int) -> None:
        caption = QLabel("How long it takes:", card)
        caption.setObjectName("StopChoiceCaption")
        card.grid.addWidget(caption, 4, 1)
        self.estimate = QLabel(LOADING_TEXT, card)
        self.estimate.setObjectName("StopEstimate")
        lines = ESTIMATE_LINES if jobs == 1 else \
            min(MAX_ESTIMATE_LINES, ESTIMATE_LINES_PER_JOB * jobs + 1)
        self.estimate_box = _fixed_box(self.estimate, card.text_width, lines, card)
        card.grid.addWidget(self.estimate_box, 5, 1)
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

    def set_previews(self, previews: Sequence[StopPreview], gone: Sequence[str] = (),
                     finished: Sequence[SessionInfo] = ()) -> None:
        """Show what each choice would do; ``gone`` lists jobs no longer running and
        ``finished`` their last sessions (who got a restore point)."""
        self.estimate.setText(estimate_text(previews) if previews else
                              "The job has finished." if gone else "—")
        ended = {s.job.casefold(): s for s in finished}
        if previews:
            self.immediately.points.setText(_per_job(previews, "immediately_gets_point"))
            self.gracefully.points.setText(_per_job(previews, "gracefully_gets_point"))
        else:
            got = "; ".join(_names(got_points(s)) for s in finished) if len(finished) == 1 \
                else "\n".join(f"{s.job}: {_names(got_points(s))}" for s in finished)
            for choice in (self.immediately, self.gracefully):
                choice.points.setText(got or "none")
        notes: list[str] = []
        not_started = [p for p in previews if p.not_started and p.stop_mode is None]
        if not_started:
            notes.append("No new restore point in either case (not started yet): "
                         + _per_job(not_started, "not_started").replace("\n", "; "))
        if gone and previews:
            notes.append("No longer running: " + "; ".join(
                f"{name} (new restore points for: {_names(got_points(ended[name.casefold()]))})"
                if name.casefold() in ended else name for name in gone))
        self.nothing.setText("\n".join(notes))
        under_way = [under_way_text(p) for p in previews if p.stop_mode is not None]
        if gone and not previews:
            texts = [finished_text(ended[n.casefold()]) for n in gone if n.casefold() in ended]
            what = f"The job '{gone[0]}' has" if len(gone) == 1 else "These jobs have"
            self.question.setText(" ".join(texts) if texts else
                                  f"{what} already finished: there is nothing to stop.")
        elif under_way:
            graceful = all(p.stop_mode is StopMode.GRACEFULLY for p in previews)
            self.question.setText(" ".join(under_way) + (
                " Stop immediately instead, or wait." if graceful else ""))
        else:
            self.question.setText(self.question_text)
        still_running = bool(previews) or not gone
        graceful_asked = bool(previews) and all(p.stop_mode is not None for p in previews)
        immediate_asked = bool(previews) and all(p.stop_mode is StopMode.IMMEDIATELY
                                                 for p in previews)
        self.immediately_button.setEnabled(still_running and not immediate_asked)
        self.gracefully_button.setEnabled(still_running and not graceful_asked)
        self.gracefully_button.setToolTip("A stop is already under way" if graceful_asked
                                          else "")
        self.cancel_button.setText("Close" if not still_running or graceful_asked
                                   else "Cancel")
        self._show_pause(previews, still_running)

    def _show_pause(self, previews: Sequence[StopPreview], running: bool) -> None:
        """Pause while the jobs work; Resume once they are all paused."""
        paused = bool(previews) and all(p.paused for p in previews)
        stopping = any(p.stop_mode is not None for p in previews)
        self.pausing = not paused
        self.pause_button.setText("Pause" if self.pausing else "Resume")
        self.pause_button.setIcon(icon("pause" if self.pausing else "resume"))
        self.pause_button.setEnabled(running and bool(previews) and not stopping)
        self.pause_note.setText(PAUSE_TEXT if self.pausing else PAUSED_TEXT)

    def _pause(self) -> None:
        self.pause_chosen.emit(self.pausing)
        self.accept()

    def _choose(self, mode: StopMode) -> None:
        self.mode = mode
        self.chosen.emit(mode)
        self.accept()
