"""The statistics window of a job's last session: summary, data, status,
and each computer with its own log. Modeless; refreshed while open."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
    QProgressBar, QSplitter, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from core.models import LogItem, SessionInfo, TaskInfo, TaskStatus

from .formatting import bytes_text, datetime_text, duration_text, rate_text
from .resources import icon
from .session_stats import session_stats, session_status_text

_STATUS_ICONS: dict[TaskStatus, str] = {
    TaskStatus.SUCCESS: "success", TaskStatus.WARNING: "warning",
    TaskStatus.FAILED: "failed", TaskStatus.CANCELLED: "failed",
    TaskStatus.IN_PROGRESS: "running",
}
_LOG_ICONS = {"warning": "warning", "error": "failed", "info": "success"}


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


class StatisticsDialog(QDialog):
    def __init__(self, job: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("StatisticsDialog")
        self.job = job
        self.session: SessionInfo | None = None
        self.setWindowTitle(f"{job} — Statistics")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)

        head = QHBoxLayout()
        self.heading = QLabel(f"Job: {job}", self)
        self.heading.setObjectName("DialogQuestion")
        head.addWidget(self.heading, 1)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("SessionProgress")
        self.progress.setRange(0, 100)
        self.progress.setFixedWidth(220)
        head.addWidget(self.progress)
        layout.addLayout(head)

        figures = QHBoxLayout()
        summary, self.summary = _figures("Summary", ["Duration", "Processing rate", "Status",
                                                     "Started"], self)
        data, self.data = _figures("Data", ["Processed", "Read", "Transferred"], self)
        status, self.status = _figures("Status", ["Success", "Warnings", "Errors"], self)
        for box in (summary, data, status):
            figures.addWidget(box, 1)
        layout.addLayout(figures)

        split = QSplitter(Qt.Orientation.Horizontal, self)
        self.computers = QTreeWidget(split)
        self.computers.setObjectName("StatsComputers")
        self.computers.setHeaderLabels(["Name", "Status", "Progress", "Duration", "Processed"])
        self.computers.setRootIsDecorated(False)
        for column, width in enumerate((120, 100, 100, 70)):
            self.computers.setColumnWidth(column, width)
        self.log = QTreeWidget(split)
        self.log.setObjectName("StatsLog")
        self.log.setHeaderLabels(["Time", "Action"])
        self.log.setRootIsDecorated(False)
        self.log.setColumnWidth(0, 150)
        split.setSizes([480, 420])
        layout.addWidget(split, 1)
        self.computers.currentItemChanged.connect(lambda *_: self._show_log())

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        self.resize(920, 580)

    # -- content -----------------------------------------------------------------
    def set_session(self, session: SessionInfo | None) -> None:
        self.session = session
        if session is None:
            self.heading.setText(f"Job: {self.job} — no session yet")
            return
        stats = session_stats(session)
        self.heading.setText(f"Job: {self.job}  ·  {'Full' if session.full else 'Incremental'}"
                             f"  ·  {session.run_kind.value.capitalize()} run")
        self.progress.setValue(session.progress)
        self.summary["Duration"].setText(duration_text(stats.duration_s))
        self.summary["Processing rate"].setText(rate_text(stats.processed, stats.duration_s)
                                                or "—")
        self.summary["Status"].setText(session_status_text(session))
        self.summary["Started"].setText(datetime_text(session.created, seconds=True))
        self.data["Processed"].setText(bytes_text(stats.processed))
        self.data["Read"].setText(bytes_text(stats.read))
        self.data["Transferred"].setText(bytes_text(stats.transferred))
        self.status["Success"].setText(str(stats.success))
        self.status["Warnings"].setText(str(stats.warnings))
        self.status["Errors"].setText(str(stats.errors))
        self._fill_computers(session.tasks)

    def _fill_computers(self, tasks: list[TaskInfo]) -> None:
        current = self.computers.currentItem()
        keep = current.text(0) if current is not None else None
        self.computers.clear()
        for task in tasks:
            done = (f"{task.files_done}/{task.files_total} files" if task.files_total
                    else ("" if task.status is TaskStatus.PENDING else f"{task.files_done} files"))
            item = QTreeWidgetItem([task.computer, task.status.value, done,
                                    duration_text(task.duration_s),
                                    bytes_text(task.bytes_processed)])
            name = _STATUS_ICONS.get(task.status)
            if name:
                item.setIcon(1, icon(name))
            item.setData(0, Qt.ItemDataRole.UserRole, task)
            self.computers.addTopLevelItem(item)
            if task.computer == keep or (keep is None and self.computers.currentItem() is None):
                self.computers.setCurrentItem(item)
        self._show_log()

    def _show_log(self) -> None:
        self.log.clear()
        item = self.computers.currentItem()
        entries: list[LogItem] = []
        if item is not None:
            task = item.data(0, Qt.ItemDataRole.UserRole)
            if isinstance(task, TaskInfo):
                entries = task.log
        elif self.session is not None:
            entries = self.session.log
        for entry in entries:
            row = QTreeWidgetItem([datetime_text(entry.time, seconds=True), entry.text])
            row.setIcon(1, icon(_LOG_ICONS.get(entry.level, "success")))
            self.log.addTopLevelItem(row)

    def computer_names(self) -> list[str]:
        items = (self.computers.topLevelItem(i)
                 for i in range(self.computers.topLevelItemCount()))
        return [item.text(0) for item in items if item is not None]
