"""The "Stop Backup Job" window: Immediately, Gracefully, Gracefully only past
the RPO, Pause (Resume when paused) or Cancel.

Beyond the reference console it shows, for the jobs as they are right now,
which computers would still get a new restore point under each choice, how
long a graceful stop will take (each computer in progress: its progress and
time left, from its measured rate), and offers a middle ground: gracefully,
but immediately if not done within N minutes (the server keeps that deadline).
And what each choice costs: a table of the job's computers with how old each
one's newest restore point will be under each choice, those past the job's RPO
flagged (icon, colour, tooltip); and a third choice, gracefully only for the
computers past their RPO (the others in progress stop now).

The window never changes size while open, so its buttons never move under
the pointer: every text that changes lives in a box of fixed size, which
scrolls when the text is longer than its room.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QDialog, QFrame, QGridLayout, QHBoxLayout, QHeaderView,
    QLabel, QPushButton, QScrollArea, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout,
    QWidget,
)

from core.models import SessionInfo, StopMode
from core.api import PointAge, StopCost, StopPreview

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
PAST_RPO_TEXT = (
    "Finish only the computers past the job's RPO (or about to pass it), so that they "
    "get a new restore point; stop the others now (no new point, their earlier ones "
    "stay within the RPO). Computers not started yet are skipped."
)
KEPT_TEXT = "Restore points created earlier are kept in every case."
PAST_RPO_BUTTON = "Only past RPO"
NO_RPO_TIP = ("The job has no RPO, so no computer is past it. Set one in the job's "
              "notification settings (agent-jobs job set NAME --rpo HOURS).")
COST_COLUMNS = ("Computer", "Now", "Immediately", "Gracefully", "Only past RPO")
COST_ROWS = 5        # rows in view before the cost table scrolls
LATE = QColor("#C62828")
NEW_POINT = QColor("#007A28")   # the choices' "New restore points for" green
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
            # the measured rate runs on the wall clock: the time left allows for holds
            held = f" (held {e.production_s:.0f} s by production: allowed for)" \
                if e.production_s >= 1 else ""
            lines.append(f"{'  ' if several else ''}{e.computer}: {e.progress} %, {left}{held}")
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
    what = "A graceful stop (only computers past their RPO)" \
        if preview.stop_mode is StopMode.GRACEFULLY_PAST_RPO else "A graceful stop"
    return (f"{what} of '{preview.job}' is under way{since}{by}: "
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


def age_text(age: PointAge) -> str:
    """A computer's newest restore point under one choice: 'new point', '31 h old',
    '2 d 3 h old', 'none'."""
    if age.gets_point and (age.age_seconds or 0) < 3600:
        return "new point"
    if age.age_seconds is None:
        return "none"
    minutes = int(age.age_seconds // 60)
    if minutes < 60:
        return f"{minutes} min old"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h old"
    return f"{hours // 24} d {hours % 24} h old".replace(" 0 h", "")


def age_tip(age: PointAge, rpo_hours: int | None) -> str:
    if rpo_hours is None:
        return "The job has no RPO."
    if not age.past_rpo:
        return f"Within the job's RPO of {rpo_hours} h."
    if age.age_seconds is None:
        return f"Past the job's RPO of {rpo_hours} h: no restore point at all."
    return (f"Past the job's RPO of {rpo_hours} h: its newest restore point would be "
            f"{age_text(age).removesuffix(' old')} old.")


WHERE_TEXT = {"completed": "Done", "in_progress": "In progress", "not_started": "Not started"}


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
        self.past_rpo = _Choice("Gracefully, only past RPO", PAST_RPO_TEXT, "warning", self,
                                width)
        full = 3 * width + 120
        # What is under way (a stop already asked for, a job that finished) replaces the
        # question, in a box of fixed size: the window keeps its size.
        layout.addWidget(_fixed_box(self.question, full, QUESTION_LINES, self))
        row.addWidget(self.immediately)
        row.addWidget(self.gracefully)
        row.addWidget(self.past_rpo)
        layout.addLayout(row)

        self.costs_caption = QLabel("What each choice costs: how old each computer's "
                                    "newest restore point will be", self)
        self.costs_caption.setObjectName("StopChoiceCaption")
        layout.addWidget(self.costs_caption)
        self.costs = QTableWidget(0, len(COST_COLUMNS), self)
        self.costs.setObjectName("StopCosts")
        self.costs.setHorizontalHeaderLabels(list(COST_COLUMNS))
        self.costs.verticalHeader().setVisible(False)
        self.costs.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.costs.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.costs.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.costs.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for col, tip in enumerate((
                "", "Where the computer is in the session now",
                "Its newest restore point once the job has stopped immediately (now)",
                "Its newest restore point once the graceful stop has ended (by the estimates)",
                "Its newest restore point once only the computers past their RPO have "
                "finished")):
            head = self.costs.horizontalHeaderItem(col)
            if tip and head is not None:
                head.setToolTip(tip)
        rows = self.costs.verticalHeader().defaultSectionSize()
        self.costs.setMinimumWidth(full)   # as wide as the choices above it
        self.costs.setFixedHeight(header.sizeHint().height() + rows * COST_ROWS + 4)
        layout.addWidget(self.costs)

        self.nothing = QLabel("", self)
        self.nothing.setObjectName("StopNoPoint")
        layout.addWidget(_fixed_box(self.nothing, full, NOTE_LINES, self))
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
        self.past_rpo_button = QPushButton(PAST_RPO_BUTTON, self)
        self.past_rpo_button.setEnabled(False)   # until the preview says the job has an RPO
        self.pause_button = QPushButton(icon("pause"), "Pause", self)
        self.pause_button.setObjectName("StopPauseButton")
        self.pausing = True   # the button pauses (False: the jobs are paused, it resumes)
        self.cancel_button = QPushButton("Cancel", self)
        for button in (self.immediately_button, self.gracefully_button, self.past_rpo_button,
                       self.pause_button,
                       self.cancel_button):
            button.setAutoDefault(False)
            buttons.addWidget(button)
        self.gracefully_button.setDefault(True)
        layout.addLayout(buttons)

        self.immediately_button.clicked.connect(lambda: self._choose(StopMode.IMMEDIATELY))
        self.gracefully_button.clicked.connect(lambda: self._choose(StopMode.GRACEFULLY))
        self.past_rpo_button.clicked.connect(
            lambda: self._choose(StopMode.GRACEFULLY_PAST_RPO))
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
            self.past_rpo.points.setText(
                _per_job(previews, "gracefully_past_rpo_gets_point")
                if all(p.rpo_hours is not None for p in previews) else
                "— (the job has no RPO)")
        else:
            got = "; ".join(_names(got_points(s)) for s in finished) if len(finished) == 1 \
                else "\n".join(f"{s.job}: {_names(got_points(s))}" for s in finished)
            for choice in (self.immediately, self.gracefully, self.past_rpo):
                choice.points.setText(got or "none")
        self._show_costs(previews)
        notes: list[str] = []
        not_started = [p for p in previews if p.not_started and p.stop_mode is None]
        if not_started:
            notes.append("No new restore point under any choice (not started yet): "
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
            graceful = all(p.stop_mode is not None and p.stop_mode.graceful for p in previews)
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
        no_rpo = [p.job for p in previews if p.rpo_hours is None]
        self.past_rpo_button.setEnabled(still_running and not graceful_asked and bool(previews)
                                        and not no_rpo)
        self.past_rpo_button.setToolTip(
            "A stop is already under way" if graceful_asked else
            NO_RPO_TIP.replace("The job has", f"The job '{no_rpo[0]}' has") if no_rpo else
            "Computers in progress past their RPO finish; the others stop now.")
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

    def _show_costs(self, previews: Sequence[StopPreview]) -> None:
        """One row per computer: where it is now, and its newest point's age under each
        choice; past the RPO in red with a warning icon and a tooltip saying why."""
        rows: list[tuple[StopPreview, StopCost]] = [(p, c) for p in previews for c in p.costs]
        self.costs.setRowCount(len(rows))
        several = len(previews) > 1
        for r, (preview, cost) in enumerate(rows):
            name = f"{preview.job}: {cost.computer}" if several else cost.computer
            self.costs.setItem(r, 0, QTableWidgetItem(name))
            self.costs.setItem(r, 1, QTableWidgetItem(WHERE_TEXT.get(cost.where, cost.where)))
            for col, age in enumerate((cost.immediately, cost.gracefully,
                                       cost.gracefully_past_rpo), start=2):
                item = QTableWidgetItem(age_text(age))
                item.setToolTip(age_tip(age, preview.rpo_hours))
                if age.past_rpo:
                    item.setIcon(icon("warning"))
                    item.setForeground(QBrush(LATE))
                    item.setData(Qt.ItemDataRole.UserRole, "past RPO")
                elif age.gets_point:
                    item.setForeground(QBrush(NEW_POINT))
                self.costs.setItem(r, col, item)
        rpo = {p.rpo_hours for p in previews}
        self.costs_caption.setText(
            "What each choice costs: how old each computer's newest restore point will be "
            "when the job has stopped" + (
                f" (RPO {rpo.pop()} h; past it in red)" if len(rpo) == 1 and None not in rpo
                else " (the job has no RPO)" if rpo == {None} else " (past its RPO in red)"))

    def _choose(self, mode: StopMode) -> None:
        self.mode = mode
        self.chosen.emit(mode)
        self.accept()
