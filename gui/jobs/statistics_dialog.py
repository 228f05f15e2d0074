"""The Statistics window of one session: summary (with the measured
bottleneck), data, status counts, a live processing-rate chart, and a row
per computer under a first row for the session itself, each with its log.
Modeless; follows the session live while it runs; Stop and Report."""
from __future__ import annotations

from time import monotonic

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QApplication, QDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar,
    QPushButton, QSplitter, QStyle, QStyledItemDelegate, QStyleOptionProgressBar,
    QStyleOptionViewItem, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from core.api import SessionFigures, made_text, session_figures, stopped_text, task_percent
from core.models import LogItem, SessionInfo, SessionType, Stage, TaskInfo, TaskStatus

from gui.widgets.formatting import (
    JOB_SESSIONS, bytes_text, datetime_text, duration_text, job_text, ratio_text,
)
from gui.jobs.rate_chart import RateChart
from gui.widgets.resources import icon

_STATUS_ICONS: dict[TaskStatus, str] = {
    TaskStatus.SUCCESS: "success", TaskStatus.WARNING: "warning",
    TaskStatus.FAILED: "failed", TaskStatus.CANCELLED: "failed",
    TaskStatus.SKIPPED: "warning", TaskStatus.IN_PROGRESS: "running",
}
_LOG_ICONS = {"warning": "warning", "error": "failed", "info": "success"}
LOG_ROLE = Qt.ItemDataRole.UserRole + 1        # the row's log (list[LogItem])
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 2   # 0-100
SESSION_ROW = "session"



def made_by(session: SessionInfo, task: TaskInfo) -> str:
    """A computer's Made column: its point's type, or how many points a copy copied."""
    if session.type is SessionType.COPY:
        if task.points_copied:
            return f"{task.points_copied} point{'s' if task.points_copied != 1 else ''} copied"
        return "Nothing new" if task.status is TaskStatus.SUCCESS else ""
    return task.point_type.value if task.point_type else ""

class WrapDelegate(QStyledItemDelegate):
    """Log lines wrap to the column's width: a row is as tall as its text."""

    def __init__(self, view: QTreeWidget) -> None:
        super().__init__(view)
        self._view = view

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        text = index.data()
        if not isinstance(text, str) or not text:
            return hint
        width = max(60, self._view.columnWidth(index.column()) - 32)   # icon and margins
        rect = option.fontMetrics.boundingRect(
            QRect(0, 0, width, 100_000), int(Qt.TextFlag.TextWordWrap), text)
        return QSize(hint.width(), max(hint.height(), rect.height() + 6))


class ProgressDelegate(QStyledItemDelegate):
    """Paints the Progress column as a progress bar."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        value = index.data(PROGRESS_ROLE)
        if not isinstance(value, int):
            super().paint(painter, option, index)
            return
        bar = QStyleOptionProgressBar()
        bar.rect = QRect(option.rect.adjusted(2, 3, -2, -3))
        bar.minimum, bar.maximum, bar.progress = 0, 100, value
        bar.text = f"{value}%"
        bar.textVisible = True
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


def _figures(title: str, names: list[str], parent: QWidget) -> tuple[QGroupBox, dict[str, QLabel]]:
    box = QGroupBox(title, parent)
    box.setObjectName("StatsGroup")
    form = QFormLayout(box)
    form.setContentsMargins(10, 6, 10, 8)
    form.setVerticalSpacing(3)
    labels: dict[str, QLabel] = {}
    for name in names:
        value = QLabel("", box)
        value.setObjectName("StatsValue")
        form.addRow(f"{name}:", value)
        labels[name] = value
    return box, labels


def task_progress(task: TaskInfo) -> int | None:
    """A computer's bar (None: none, for one skipped or that failed before reading)."""
    return task_percent(task)


def session_rate_series(session: SessionInfo) -> list[tuple[float, int]]:
    """(seconds since the session started, bytes processed by all its computers) at
    every time a computer was sampled: each computer counts its last sample until then."""
    events = sorted((t, i, processed) for i, task in enumerate(session.tasks)
                    for t, processed in task.rate_samples)
    current = [0] * len(session.tasks)
    total = 0
    series: list[tuple[float, int]] = []
    for t, i, processed in events:
        total += processed - current[i]
        current[i] = processed
        if series and series[-1][0] == t:
            series[-1] = (t, total)
        else:
            series.append((t, total))
    return series


class StatisticsDialog(QDialog):
    stopRequested = Signal()
    reportRequested = Signal()

    def __init__(self, job: str, session_id: str | None = None,
                 parent: QWidget | None = None, *, follow_job: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName("StatisticsDialog")
        self.job = job
        self.session_id = session_id
        self.follow_job = follow_job   # opened on a job: a new session of it is followed
        self.session: SessionInfo | None = None
        self._opened = monotonic()
        self.setWindowTitle(f"{job_text(job)} — Statistics")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)

        head = QHBoxLayout()
        self.heading = QLabel(f"Job: {job_text(job)}", self)
        self.heading.setObjectName("DialogQuestion")
        self.heading.setWordWrap(True)
        head.addWidget(self.heading, 1)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("SessionProgress")
        self.progress.setRange(0, 100)
        self.progress.setFixedWidth(220)
        head.addWidget(self.progress)
        layout.addLayout(head)

        figures = QHBoxLayout()
        summary, self.summary = _figures("Summary", ["Duration", "Processing rate",
                                                     "Bottleneck", "Status", "Started"], self)
        data, self.data = _figures("Data", ["Processed", "Read", "Transferred", "Saving"], self)
        status, self.status = _figures("Status", ["Success", "Warning", "Error", "Skipped",
                                                  "Running", "Pending"], self)
        for box in (summary, data, status):
            figures.addWidget(box, 1)
        chart_box = QGroupBox("Processing rate", self)
        chart_box.setObjectName("StatsGroup")
        chart_layout = QVBoxLayout(chart_box)
        chart_layout.setContentsMargins(6, 4, 6, 4)
        self.chart = RateChart(chart_box)
        chart_layout.addWidget(self.chart)
        figures.addWidget(chart_box, 1)
        layout.addLayout(figures)

        split = QSplitter(Qt.Orientation.Horizontal, self)
        self.computers = QTreeWidget(split)
        self.computers.setObjectName("StatsComputers")
        self.computers.setHeaderLabels(["Name", "Status", "Progress", "Duration", "Processed",
                                        "Read", "Transferred", "Made"])
        self.computers.setRootIsDecorated(False)
        self.computers.setItemDelegateForColumn(2, ProgressDelegate(self.computers))
        for column, width in enumerate((150, 104, 100, 70, 80, 74, 84)):
            self.computers.setColumnWidth(column, width)
        self.log = QTreeWidget(split)
        self.log.setObjectName("StatsLog")
        self.log.setHeaderLabels(["Time", "Action"])
        self.log.setRootIsDecorated(False)
        self.log.setWordWrap(True)            # long lines wrap; the tooltip shows them whole
        self.log.setUniformRowHeights(False)
        self.log.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.log.setItemDelegateForColumn(1, WrapDelegate(self.log))
        self.log.setColumnWidth(0, 140)
        self.log.header().sectionResized.connect(lambda *_: self.log.doItemsLayout())
        split.setSizes([740, 440])
        layout.addWidget(split, 1)
        self.computers.currentItemChanged.connect(lambda *_: self._show_log())

        buttons = QHBoxLayout()
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setIcon(icon("stop"))
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stopRequested)
        self.report_button = QPushButton("Report", self)
        self.report_button.setIcon(icon("report"))
        self.report_button.setEnabled(False)
        self.report_button.clicked.connect(self.reportRequested)
        close = QPushButton("Close", self)
        close.clicked.connect(self.close)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.report_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        self.resize(1220, 640)

    # -- content -----------------------------------------------------------------
    def set_session(self, session: SessionInfo | None) -> None:
        if session is not None and self.session is not None and session.id != self.session.id:
            self.chart.clear()
        self.session = session
        if session is None:
            self.heading.setText(f"Job: {job_text(self.job)} — no session yet")
            return
        self.session_id = session.id
        self.job = session.job
        fig = session_figures(session)
        kind = session.type.value
        what = made_text(session) if session.type is SessionType.BACKUP else kind
        self.heading.setText(f"Job: {job_text(session.job)}  ·  {what}  ·  "
                             f"{session.run_kind.value.capitalize()} run")
        self.progress.setValue(fig.percent)   # as the rows below add up
        self.summary["Duration"].setText(duration_text(fig.duration_s))
        self.summary["Processing rate"].setText(
            f"{bytes_text(fig.rate_bps)}/s" if fig.rate_bps else "—")
        self.summary["Bottleneck"].setText(fig.bottleneck_text())
        self.summary["Bottleneck"].setToolTip(
            ", ".join(f"{stage.value} {fig.stage_percent(stage)}%" for stage in Stage)
            if fig.bottleneck else "Not measured: this session read nothing")
        result = session.result.value if session.result else \
            f"{session.state.value} {session.progress}%"
        stopped = stopped_text(session)
        self.summary["Status"].setText(result + (f" — {stopped.lower()}" if stopped else ""))
        self.summary["Started"].setText(datetime_text(session.created, seconds=True))
        self.data["Processed"].setText(bytes_text(fig.processed))
        self.data["Read"].setText(bytes_text(fig.read))
        self.data["Transferred"].setText(bytes_text(fig.transferred))
        self.data["Saving"].setText(
            f"{ratio_text(fig.dedup)} dedup × {ratio_text(fig.compression)} compression"
            if fig.saving else "—")
        self.data["Saving"].setToolTip(f"Read ÷ transferred: {ratio_text(fig.saving)}")
        self.status["Success"].setText(str(fig.success))
        self.status["Warning"].setText(str(fig.warning))
        self.status["Error"].setText(str(fig.error))
        self.status["Skipped"].setText(str(fig.skipped))
        self.status["Running"].setText(str(fig.running))
        self.status["Pending"].setText(str(fig.pending))
        active = session.state.is_active
        # Drawn from the session's own samples: the same during the session and after it.
        self.chart.set_series(session_rate_series(session))
        self.chart.placeholder = "The rate is drawn while the session runs." if active else \
            "The session was too short to draw its rate."
        self.chart.update()
        self.stop_button.setEnabled(active)
        self.stop_button.setText("Cancel" if session.type not in JOB_SESSIONS else "Stop")
        self.report_button.setEnabled(True)
        self._fill_computers(session, fig)

    def _fill_computers(self, session: SessionInfo, fig: SessionFigures) -> None:
        current = self.computers.currentItem()
        keep = current.data(0, Qt.ItemDataRole.UserRole) if current is not None else None
        self.computers.clear()
        head = QTreeWidgetItem([
            f"{session.type.value} session", session.result.value if session.result
            else session.state.value, "", duration_text(session_figures(session).duration_s),
            bytes_text(sum(t.bytes_processed for t in session.tasks)),
            bytes_text(sum(t.bytes_read for t in session.tasks)),
            bytes_text(sum(t.bytes_transferred for t in session.tasks)),
            made_text(session) if session.type is SessionType.BACKUP else ""])
        head.setIcon(0, icon("job"))
        head.setData(0, Qt.ItemDataRole.UserRole, SESSION_ROW)
        head.setData(0, LOG_ROLE, session.log)
        head.setData(2, PROGRESS_ROLE, fig.percent)
        font = head.font(0)
        font.setBold(True)
        head.setFont(0, font)
        self.computers.addTopLevelItem(head)
        for task in session.tasks:
            done = (f"{task.files_done}/{task.files_total} files" if task.files_total
                    else f"{task.files_done} files")
            item = QTreeWidgetItem([task.computer, task.status.value, "",
                                    duration_text(task.duration_s),
                                    bytes_text(task.bytes_processed), bytes_text(task.bytes_read),
                                    bytes_text(task.bytes_transferred),
                                    made_by(session, task)])
            name = _STATUS_ICONS.get(task.status)
            if name:
                item.setIcon(1, icon(name))
            item.setData(0, Qt.ItemDataRole.UserRole, task.computer)
            item.setData(0, LOG_ROLE, task.log)
            percent = task_progress(task)
            if percent is not None:
                item.setData(2, PROGRESS_ROLE, percent)
            item.setToolTip(2, done)
            self.computers.addTopLevelItem(item)
        for i in range(self.computers.topLevelItemCount()):
            row = self.computers.topLevelItem(i)
            if row is not None and row.data(0, Qt.ItemDataRole.UserRole) == (keep or SESSION_ROW):
                self.computers.setCurrentItem(row)
                break
        self._show_log()

    def _show_log(self) -> None:
        bar = self.log.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 2
        self.log.clear()
        item = self.computers.currentItem()
        entries = item.data(0, LOG_ROLE) if item is not None else None
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, LogItem):
                continue
            row = QTreeWidgetItem([datetime_text(entry.time, seconds=True), entry.text])
            row.setIcon(1, icon(_LOG_ICONS.get(entry.level, "success")))
            row.setToolTip(1, entry.text)
            self.log.addTopLevelItem(row)
        if at_end:
            self.log.scrollToBottom()

    def select_row(self, name: str) -> None:
        """Show the log of a computer, or of the session (``"session"``)."""
        for i in range(self.computers.topLevelItemCount()):
            item = self.computers.topLevelItem(i)
            if item is not None and item.data(0, Qt.ItemDataRole.UserRole) == name:
                self.computers.setCurrentItem(item)
                return

    def log_lines(self) -> list[str]:
        rows = (self.log.topLevelItem(i) for i in range(self.log.topLevelItemCount()))
        return [row.text(1) for row in rows if row is not None]

    def computer_names(self) -> list[str]:
        items = (self.computers.topLevelItem(i)
                 for i in range(1, self.computers.topLevelItemCount()))
        return [item.text(0) for item in items if item is not None]
