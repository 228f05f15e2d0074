"""Home → Overview in the working area: tiles for the last 24 hours, the
chart of the last days, the repositories' space, the latest failures and
the next runs. It only shows what :class:`OverviewController` hands it."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QAbstractItemView, QFrame, QGridLayout, QHBoxLayout, QHeaderView, QLabel, QProgressBar,
    QScrollArea, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from core.api import FailureInfo, HomeOverview, NextRunInfo, RepositoryInfo

from gui.overview.day_chart import DayChart
from gui.widgets.formatting import bytes_text, datetime_text, one_line
from gui.widgets.resources import icon

ROW_HEIGHT = 24
FAILURE_ROW_HEIGHT = 40   # two lines of a reason
# (tile title, icon, inventory node it opens)
TILES: tuple[tuple[str, str, str], ...] = (
    ("Running", "running", "Last 24 Hours/Running"),
    ("Success", "success", "Last 24 Hours/Success"),
    ("Warning", "warning", "Last 24 Hours/Warning"),
    ("Failed", "failed", "Last 24 Hours/Failed"),
)
NO_FAILURES = "No failed sessions in the last 7 days."
NO_RUNS = "No job runs on a schedule."
NO_REPOSITORIES = "Fetching the repositories' space…"


class Tile(QFrame):
    """One count of the last 24 hours; a click opens its Last 24 Hours node."""

    clicked = Signal(str)

    def __init__(self, title: str, icon_name: str, node: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("OverviewTile")
        self.setProperty("kind", title.lower())
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(f"Open Last 24 Hours > {title}")
        self.node = node
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        picture = QLabel(self)
        picture.setPixmap(icon(icon_name).pixmap(32, 32))
        layout.addWidget(picture)
        texts = QVBoxLayout()
        texts.setSpacing(0)
        self.count = QLabel("–", self)
        self.count.setObjectName("OverviewTileCount")
        self.caption = QLabel(title, self)
        self.caption.setObjectName("OverviewTileCaption")
        texts.addWidget(self.count)
        texts.addWidget(self.caption)
        layout.addLayout(texts, 1)

    def set_count(self, value: int) -> None:
        self.count.setText(str(value))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() is Qt.MouseButton.LeftButton and self.rect().contains(
                event.position().toPoint()):
            self.clicked.emit(self.node)
        super().mouseReleaseEvent(event)


class Card(QFrame):
    """A titled box of the overview."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("OverviewCard")
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(12, 8, 12, 10)
        self.body.setSpacing(6)
        self.title = QLabel(title, self)
        self.title.setObjectName("OverviewCardTitle")
        self.body.addWidget(self.title)


def _table(parent: QWidget, headers: list[str], stretch: int) -> QTableWidget:
    table = QTableWidget(0, len(headers), parent)
    table.setObjectName("OverviewTable")
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    header = table.horizontalHeader()
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setHighlightSections(False)
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    table.setMinimumHeight(ROW_HEIGHT * 4)
    return table


def _item(text: str, tooltip: str | None = None, icon_name: str | None = None
          ) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setToolTip(tooltip if tooltip is not None else text)
    if icon_name:
        item.setIcon(icon(icon_name))
    return item


class RepositoryRow(QWidget):
    def __init__(self, repo: RepositoryInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("OverviewRepository")
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.setHorizontalSpacing(8)
        layout.setVerticalSpacing(2)
        picture = QLabel(self)
        picture.setPixmap(icon("repository_s3" if repo.kind == "s3" else "repository")
                          .pixmap(20, 20))
        layout.addWidget(picture, 0, 0, 3, 1, Qt.AlignmentFlag.AlignTop)
        self.name = QLabel(repo.name, self)
        self.name.setObjectName("OverviewRepositoryName")
        layout.addWidget(self.name, 0, 1)
        self.space = QLabel(space_text(repo), self)
        self.space.setObjectName("OverviewRepositoryProblem" if repo.problem
                                 else "OverviewRepositorySpace")
        self.space.setToolTip(repo.problem or repo.location)
        layout.addWidget(self.space, 2, 1)
        self.bar = QProgressBar(self)
        self.bar.setObjectName("OverviewSpaceBar")
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(8)
        self.bar.setRange(0, 1000)
        used = used_share(repo)
        self.bar.setValue(int(round(used * 1000)) if used is not None else 0)
        self.bar.setProperty("level", "high" if used is not None and used >= 0.9 else "normal")
        layout.addWidget(self.bar, 1, 1)
        layout.setColumnStretch(1, 1)


def used_share(repo: RepositoryInfo) -> float | None:
    """How full the repository's disk (or bucket) is, 0..1; None: not known."""
    if repo.capacity_bytes and repo.free_bytes is not None:
        return max(0.0, min(1.0, 1 - repo.free_bytes / repo.capacity_bytes))
    return None


def space_text(repo: RepositoryInfo) -> str:
    if repo.problem:
        return one_line(repo.problem, 90)
    parts = []
    if repo.free_bytes is not None:
        parts.append(f"{bytes_text(repo.free_bytes)} free"
                     + (f" of {bytes_text(repo.capacity_bytes)}" if repo.capacity_bytes else ""))
    if repo.used_bytes is not None:
        parts.append(f"backups use {bytes_text(repo.used_bytes)}")
    return " · ".join(parts) or "Space unknown"


class OverviewView(QScrollArea):
    nodeRequested = Signal(str)               # an inventory node's path
    statisticsRequested = Signal(str, str)    # job, session id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("OverviewView")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        page = QWidget(self)
        page.setObjectName("OverviewPage")
        layout = QVBoxLayout(page)
        layout.setContentsMargins(16, 12, 16, 16)
        layout.setSpacing(12)

        heading = QHBoxLayout()
        title = QLabel("Overview", page)
        title.setObjectName("OverviewTitle")
        heading.addWidget(title)
        heading.addStretch(1)
        self.updated = QLabel("", page)
        self.updated.setObjectName("OverviewUpdated")
        heading.addWidget(self.updated)
        layout.addLayout(heading)
        self.problem = QLabel("", page)
        self.problem.setObjectName("OverviewProblem")
        self.problem.setWordWrap(True)
        self.problem.hide()
        layout.addWidget(self.problem)

        caption = QLabel("Sessions in the last 24 hours", page)
        caption.setObjectName("OverviewSection")
        layout.addWidget(caption)
        tiles = QHBoxLayout()
        tiles.setSpacing(10)
        self.tiles: dict[str, Tile] = {}
        for name, icon_name, node in TILES:
            tile = Tile(name, icon_name, node, page)
            tile.clicked.connect(self.nodeRequested)
            self.tiles[name] = tile
            tiles.addWidget(tile)
        layout.addLayout(tiles)

        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(12)
        self.chart_card = Card("Results in the last 7 days", page)
        self.chart = DayChart(self.chart_card)
        self.chart_card.body.addWidget(self.chart, 1)
        grid.addWidget(self.chart_card, 0, 0)

        self.repositories_card = Card("Backup repositories", page)
        self.repositories_box = QVBoxLayout()
        self.repositories_box.setSpacing(6)
        self.repositories_card.body.addLayout(self.repositories_box)
        self.repositories_empty = QLabel(NO_REPOSITORIES, self.repositories_card)
        self.repositories_empty.setObjectName("OverviewEmpty")
        self.repositories_card.body.addWidget(self.repositories_empty)
        self.repositories_card.body.addStretch(1)
        self.repository_rows: list[RepositoryRow] = []
        grid.addWidget(self.repositories_card, 0, 1)

        self.failures_card = Card("Latest failures", page)
        self.failures = _table(self.failures_card, ["Time", "Job", "Reason"], 2)
        self.failures.setObjectName("OverviewFailures")
        # a reason takes two lines rather than one cut short (its tooltip has it whole)
        self.failures.setWordWrap(True)
        self.failures.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.failures.verticalHeader().setDefaultSectionSize(FAILURE_ROW_HEIGHT)
        self.failures.cellDoubleClicked.connect(self._failure_activated)
        self.failures_card.body.addWidget(self.failures, 1)
        self.failures_empty = QLabel(NO_FAILURES, self.failures_card)
        self.failures_empty.setObjectName("OverviewEmpty")
        self.failures_card.body.addWidget(self.failures_empty, 1, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.failures_card, 1, 0)

        self.runs_card = Card("Next runs", page)
        self.runs = _table(self.runs_card, ["Job", "Next run"], 0)
        self.runs.setObjectName("OverviewNextRuns")
        self.runs_card.body.addWidget(self.runs, 1)
        self.runs_empty = QLabel(NO_RUNS, self.runs_card)
        self.runs_empty.setObjectName("OverviewEmpty")
        self.runs_card.body.addWidget(self.runs_empty, 1, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.runs_card, 1, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        grid.setRowStretch(0, 1)
        grid.setRowStretch(1, 1)
        layout.addLayout(grid, 1)
        self.setWidget(page)
        self.overview: HomeOverview | None = None
        self._failures: list[FailureInfo] = []
        self.set_failures([])
        self.set_next_runs([])

    # -- what the controller hands over ----------------------------------------------
    def set_overview(self, overview: HomeOverview) -> None:
        self.overview = overview
        counts = overview.last_day
        for name, value in (("Running", counts.running), ("Success", counts.success),
                            ("Warning", counts.warning), ("Failed", counts.failed)):
            self.tiles[name].set_count(value)
        days = len(overview.days)
        self.chart_card.title.setText(f"Results in the last {days} days")
        self.chart.set_days(overview.days)
        self.set_failures(overview.failures, days)
        self.set_next_runs(overview.next_runs)
        jobs = f"{overview.jobs} job{'' if overview.jobs == 1 else 's'}"
        if overview.jobs_disabled:
            jobs += f", {overview.jobs_disabled} disabled"
        self.updated.setText(f"{jobs} · updated {datetime_text(overview.generated, seconds=True)}")
        self.show_problem(None)

    def show_problem(self, text: str | None) -> None:
        self.problem.setText(text or "")
        self.problem.setVisible(bool(text))

    def set_failures(self, failures: list[FailureInfo], days: int = 7) -> None:
        self._failures = list(failures)
        table = self.failures
        table.setRowCount(len(failures))
        for row, failure in enumerate(failures):
            when = failure.ended or failure.created
            table.setItem(row, 0, _item(datetime_text(when), icon_name="failed"))
            job = failure.job or "All backups"
            table.setItem(row, 1, _item(job, f"{job} ({failure.type.value})"))
            reason = _item(one_line(failure.reason, 400), failure.reason)
            reason.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(row, 2, reason)
        table.setVisible(bool(failures))
        self.failures_empty.setText(f"No failed sessions in the last {days} days.")
        self.failures_empty.setVisible(not failures)

    def set_next_runs(self, runs: list[NextRunInfo]) -> None:
        table = self.runs
        table.setRowCount(len(runs))
        for row, run in enumerate(runs):
            table.setItem(row, 0, _item(run.job, icon_name="backup_job"))
            table.setItem(row, 1, _item(datetime_text(run.at)))
        table.setVisible(bool(runs))
        self.runs_empty.setVisible(not runs)

    def set_repositories(self, repositories: list[RepositoryInfo]) -> None:
        for row in self.repository_rows:
            self.repositories_box.removeWidget(row)
            row.deleteLater()
        self.repository_rows = [RepositoryRow(r, self.repositories_card) for r in repositories]
        for row in self.repository_rows:
            self.repositories_box.addWidget(row)
        self.repositories_empty.setText("No backup repository." if not repositories else "")
        self.repositories_empty.setVisible(not repositories)

    def repositories_failed(self, text: str) -> None:
        self.repositories_empty.setText(text)
        self.repositories_empty.setVisible(True)

    # -- reading it back (tests and the window) ------------------------------------------
    def tile_count(self, name: str) -> str:
        return self.tiles[name].count.text()

    def failure_rows(self) -> list[tuple[str, str]]:
        """(job, reason) of each failure listed."""
        return [(f.job, f.reason) for f in self._failures]

    def _failure_activated(self, row: int, _column: int) -> None:
        if 0 <= row < len(self._failures):
            failure = self._failures[row]
            self.statisticsRequested.emit(failure.job, failure.session_id)

