"""The Backup Repositories list (Backup Infrastructure view): one row per
repository, updated in place so the selection survives a rescan."""
from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt,
)
from PySide6.QtGui import QColor

from core.api import RepositoryInfo, repository_kind_text

from gui.widgets.formatting import bytes_text, one_line
from gui.widgets.resources import icon
from gui.widgets.search_box import SearchProxy

REPOSITORY_ROLE = Qt.ItemDataRole.UserRole + 1   # the row's RepositoryInfo
SORT_ROLE = Qt.ItemDataRole.UserRole + 2

Index = QModelIndex | QPersistentModelIndex
PROBLEM_COLOR = QColor("#C62828")


class RepoColumn(IntEnum):
    NAME = 0
    TYPE = 1
    LOCATION = 2
    ENCRYPTED = 3
    CAPACITY = 4
    FREE = 5
    USED = 6
    JOBS = 7
    STATUS = 8


HEADERS: dict[RepoColumn, str] = {
    RepoColumn.NAME: "Name",
    RepoColumn.TYPE: "Type",
    RepoColumn.LOCATION: "Path or URL",
    RepoColumn.ENCRYPTED: "Encrypted",
    RepoColumn.CAPACITY: "Capacity",
    RepoColumn.FREE: "Free",
    RepoColumn.USED: "Used Space",
    RepoColumn.JOBS: "Jobs",
    RepoColumn.STATUS: "Status",
}
_NUMERIC = (RepoColumn.CAPACITY, RepoColumn.FREE, RepoColumn.USED, RepoColumn.JOBS)


def kind_text(kind: str) -> str:
    return repository_kind_text(kind)


def _size(value: int | None) -> str:
    return bytes_text(value) if value is not None else ""


def display_text(repo: RepositoryInfo, column: RepoColumn) -> str:
    if column is RepoColumn.NAME:
        return repo.name
    if column is RepoColumn.TYPE:
        return kind_text(repo.kind)
    if column is RepoColumn.LOCATION:
        return repo.location
    if column is RepoColumn.ENCRYPTED:
        return "Yes" if repo.encrypted else "No"
    if column is RepoColumn.CAPACITY:
        return _size(repo.capacity_bytes) or ("Unlimited" if repo.kind == "s3"
                                              and repo.problem is None else "")
    if column is RepoColumn.FREE:
        return _size(repo.free_bytes)
    if column is RepoColumn.USED:
        return _size(repo.used_bytes)
    if column is RepoColumn.JOBS:
        return str(len(repo.jobs))
    return problem_text(repo) if repo.problem else "Available"


def problem_text(repo: RepositoryInfo) -> str:
    """The problem in a line, without the location the row already shows."""
    text = (repo.problem or "").replace(f" {repo.location} ", " ").replace(repo.location, "")
    return one_line(text, 160)


def sort_key(repo: RepositoryInfo, column: RepoColumn) -> Any:
    if column is RepoColumn.CAPACITY:
        return repo.capacity_bytes if repo.capacity_bytes is not None else -1
    if column is RepoColumn.FREE:
        return repo.free_bytes if repo.free_bytes is not None else -1
    if column is RepoColumn.USED:
        return repo.used_bytes if repo.used_bytes is not None else -1
    if column is RepoColumn.JOBS:
        return len(repo.jobs)
    return display_text(repo, column).casefold()


def tooltip(repo: RepositoryInfo, column: RepoColumn) -> str:
    if repo.problem and column in (RepoColumn.NAME, RepoColumn.STATUS):
        return repo.problem   # says what is wrong: unreachable, missing, a wrong password
    if column is RepoColumn.JOBS:
        return ", ".join(repo.jobs) or "No job writes to this repository."
    if column is RepoColumn.NAME and repo.default:
        return "The data directory's own repository"
    return display_text(repo, column)


class RepositoriesModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._repos: list[RepositoryInfo] = []

    # -- data in -----------------------------------------------------------------------
    def set_repositories(self, repos: Sequence[RepositoryInfo]) -> None:
        """Replace the rows, updating in place those whose name stays."""
        new = list(repos)
        names = [r.name for r in new]
        kept = {r.name for r in self._repos} & set(names)
        for row in reversed(range(len(self._repos))):
            if self._repos[row].name not in kept:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._repos[row]
                self.endRemoveRows()
        by_name = {r.name: r for r in new}
        for row, old in enumerate(self._repos):
            fresh = by_name[old.name]
            if fresh != old:
                self._repos[row] = fresh
                self.dataChanged.emit(self.index(row, 0),
                                      self.index(row, len(RepoColumn) - 1))
        added = [r for r in new if r.name not in kept]
        if added:
            first = len(self._repos)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            self._repos.extend(added)
            self.endInsertRows()

    def repositories(self) -> list[RepositoryInfo]:
        return list(self._repos)

    def row_of(self, name: str) -> int | None:
        return next((row for row, r in enumerate(self._repos) if r.name == name), None)

    def repository_at(self, row: int) -> RepositoryInfo:
        return self._repos[row]

    # -- Qt model --------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._repos)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(RepoColumn)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is Qt.Orientation.Horizontal and 0 <= section < len(RepoColumn):
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS[RepoColumn(section)]
            if role == Qt.ItemDataRole.TextAlignmentRole and RepoColumn(section) in _NUMERIC:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._repos):
            return None
        repo = self._repos[index.row()]
        column = RepoColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return display_text(repo, column)
        if role == REPOSITORY_ROLE:
            return repo
        if role == SORT_ROLE:
            return sort_key(repo, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return tooltip(repo, column)
        if role == Qt.ItemDataRole.DecorationRole:
            if column is RepoColumn.NAME:
                if repo.problem:
                    return icon("warning")
                return icon("repository_s3" if repo.kind == "s3" else "repository")
            if column is RepoColumn.STATUS:
                return icon("failed" if repo.problem else "success")
        if role == Qt.ItemDataRole.ForegroundRole and repo.problem \
                and column is RepoColumn.STATUS:
            return PROBLEM_COLOR
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class RepositoriesProxy(SearchProxy):
    """Sorts by each column's natural value; the search box filters by name or location."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802
        if not self._search:
            return True
        repo = self.sourceModel().index(source_row, 0, source_parent).data(REPOSITORY_ROLE)
        return isinstance(repo, RepositoryInfo) and (
            self._search in repo.name.casefold() or self._search in repo.location.casefold())
