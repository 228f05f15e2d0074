"""The Backups > Disk tree's rows: every job's restore points on disk,
job > computer > restore point, with totals per job and per computer."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QStandardItem, QStandardItemModel

from core.models import RestorePointInfo

from gui.widgets.formatting import bytes_text, datetime_text
from gui.widgets.resources import icon

NODE_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
HEADERS = ["Name", "Type", "Restore points", "Files", "Size", "State"]
DAMAGED = QColor("#C0392B")


@dataclass(frozen=True)
class BackupNode:
    """What a row of the Backups tree stands for."""

    kind: str                          # "job" | "computer" | "point"
    job: str
    computer: str | None = None
    point: RestorePointInfo | None = None
    points: tuple[RestorePointInfo, ...] = ()   # the points under it (newest first)

    @property
    def key(self) -> tuple[str, ...]:
        if self.kind == "point" and self.point is not None:
            return ("point", self.point.id)
        return (self.kind, self.job.casefold(), (self.computer or "").casefold())

    @property
    def newest(self) -> RestorePointInfo | None:
        return self.point if self.point is not None else (self.points[0] if self.points
                                                          else None)


def _row(node: BackupNode, texts: list[str], icon_name: str,
         sort: list[object]) -> list[QStandardItem]:
    items = []
    for column, text in enumerate(texts):
        item = QStandardItem(text)
        item.setEditable(False)
        item.setData(node, NODE_ROLE)
        item.setData(sort[column], SORT_ROLE)
        item.setToolTip(text)
        items.append(item)
    items[0].setIcon(icon(icon_name))
    return items


IMPORTED_TIP = ("Imported: written by another backup server that shares this repository. "
                "It can be restored; that server's retention removes it, and Delete from "
                "Disk here keeps it.")


def point_state(p: RestorePointInfo) -> str:
    """A point's State column: Damaged, OK, or Imported (another server's)."""
    if p.damaged:
        return "Damaged"
    return "Imported" if p.imported else "OK"


class BackupsModel(QStandardItemModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setHorizontalHeaderLabels(HEADERS)
        self.points: list[RestorePointInfo] = []

    def set_points(self, points: Sequence[RestorePointInfo]) -> None:
        self.points = list(points)
        self.removeRows(0, self.rowCount())
        by_job: dict[str, dict[str, list[RestorePointInfo]]] = {}
        for p in sorted(points, key=lambda p: (p.created, p.id), reverse=True):
            by_job.setdefault(p.job, {}).setdefault(p.computer, []).append(p)
        for job in sorted(by_job, key=str.casefold):
            computers = by_job[job]
            every = tuple(p for c in computers.values() for p in c)
            size, files = sum(p.size for p in every), sum(p.files for p in every)
            damaged = sum(1 for p in every if p.damaged)
            node = BackupNode("job", job, points=tuple(sorted(every, key=lambda p: p.created,
                                                              reverse=True)))
            job_row = _row(node, [job, "Agent backup", str(len(every)), "",
                                  bytes_text(size),
                                  f"{damaged} damaged" if damaged else "OK"],
                           "jobs", [job.casefold(), "", len(every), files, size, damaged])
            for computer in sorted(computers, key=str.casefold):
                pts = computers[computer]
                csize = sum(p.size for p in pts)
                cnode = BackupNode("computer", job, computer, points=tuple(pts))
                cdamaged = sum(1 for p in pts if p.damaged)
                crow = _row(cnode, [computer, "Computer", str(len(pts)), str(pts[0].files),
                                    bytes_text(csize),
                                    f"{cdamaged} damaged" if cdamaged else "OK"], "computer",
                            [computer.casefold(), "", len(pts), pts[0].files, csize, cdamaged])
                for p in pts:
                    prow = _row(BackupNode("point", job, computer, point=p),
                                [datetime_text(p.created, seconds=True), p.type.value, "",
                                 str(p.files), bytes_text(p.size),
                                 point_state(p)],
                                "point", [p.created.timestamp(), p.type.value, 0, p.files,
                                          p.size, 1 if p.damaged else 0])
                    if p.damaged:
                        for item in prow:
                            item.setForeground(DAMAGED)
                            item.setToolTip(p.damaged)
                    elif p.imported:
                        for item in prow:
                            item.setToolTip(IMPORTED_TIP)
                    crow[0].appendRow(prow)
                job_row[0].appendRow(crow)
            self.appendRow(job_row)
