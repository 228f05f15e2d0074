"""The Backups > Disk tree's rows: every job's restore points on disk,
job > computer > restore point, with totals per job and per computer."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QStandardItem, QStandardItemModel

from core.api import DiskUsage
from core.api.reports import RetainedPointInfo
from core.models import JobDefinition, RestorePointInfo
from core.scheduling.retention import Decision, decide

from gui.widgets.formatting import bytes_text, datetime_text
from gui.widgets.resources import icon

NODE_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
HEADERS = ["Name", "Type", "Restore points", "Files", "Size", "On disk", "State", "Retention"]
RETENTION_COLUMN = HEADERS.index("Retention")
SIZE_COLUMN = HEADERS.index("Size")
ON_DISK_COLUMN = HEADERS.index("On disk")
STATE_COLUMN = HEADERS.index("State")
HEADER_TIPS = {
    SIZE_COLUMN: "The size of the files at the source: a point's files; a computer's newest "
                 "point; a job's computers, each by its newest point.",
    ON_DISK_COLUMN: "The space taken in the repository, after dedup and compression: the new "
                    "data a point added; all the data a computer's or a job's points use, "
                    "each block counted once.",
}
NOT_KEPT = "Not kept"
NOT_KEPT_TIP = ("Not kept by the job's retention as it is set now: the job's next backup "
                "removes it.")
DAMAGED = QColor("#C0392B")
RETAINED = QColor("#8A9496")     # greyed: no longer a restore point
RETAINED_STATE = "Locked"


def retained_text(until: datetime) -> str:
    """A retained point's Retention column."""
    return f"Kept by immutability until {datetime_text(until)}"


def retained_tip(repository: str, until: datetime) -> str:
    return (f"The job's retention removed this restore point, but repository '{repository}' "
            "is immutable: its data stays locked (S3 Object Lock, COMPLIANCE) until "
            f"{datetime_text(until)}, and the first prune after that deletes it. It is no "
            "longer a restore point and cannot be restored from this list.")


@dataclass(frozen=True)
class Retained:
    """A point retention dropped whose data an immutable repository still keeps."""

    repository: str
    info: RetainedPointInfo

    @property
    def created(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.info.created)
        except ValueError:
            return None


@dataclass(frozen=True)
class BackupNode:
    """What a row of the Backups tree stands for."""

    kind: str                          # "job" | "computer" | "point" | "retained"
    job: str
    computer: str | None = None
    point: RestorePointInfo | None = None
    retained: Retained | None = None       # kind "retained": kept only by its lock
    points: tuple[RestorePointInfo, ...] = ()   # the points under it (newest first)

    @property
    def key(self) -> tuple[str, ...]:
        if self.kind == "point" and self.point is not None:
            return ("point", self.point.id)
        if self.kind == "retained" and self.retained is not None:
            return ("retained", self.retained.info.id)
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


def retention_text(decision: Decision | None) -> str:
    """A point's Retention column: the GFS rules that keep it as letters (D daily, W weekly,
    M monthly, Y yearly), "Last" when only "keep the last N" does, "Not kept" when the
    job's retention would remove it now; "" when unknown (its job is not listed)."""
    if decision is None:
        return ""
    if not decision.keep:
        return NOT_KEPT
    flags = decision.flags
    if flags:
        return " ".join(flags)
    return "Last" if any(r.startswith("last ") for r in decision.reasons) else \
        ", ".join(decision.reasons).capitalize()


def policy_text(definition: JobDefinition | None) -> str:
    """A job row's Retention column: "Last 7 + 7D 4W 12M"."""
    if definition is None:
        return ""
    gfs = definition.gfs
    parts = [f"{n}{letter}" for n, letter in ((gfs.keep_daily, "D"), (gfs.keep_weekly, "W"),
                                             (gfs.keep_monthly, "M"), (gfs.keep_yearly, "Y"))
             if n]
    return f"Last {definition.retain_points}" + (" + " + " ".join(parts) if parts else "")


class BackupsModel(QStandardItemModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setHorizontalHeaderLabels(HEADERS)
        for column, tip in HEADER_TIPS.items():
            self.setHeaderData(column, Qt.Orientation.Horizontal, tip,
                               Qt.ItemDataRole.ToolTipRole)
        self.points: list[RestorePointInfo] = []
        self.policies: dict[str, JobDefinition] = {}
        self.usage: DiskUsage | None = None   # None: not fetched yet
        self.retained: list[Retained] = []

    def set_points(self, points: Sequence[RestorePointInfo],
                   policies: Mapping[str, JobDefinition] | None = None,
                   usage: DiskUsage | None = None,
                   retained: Sequence[Retained] | None = None) -> None:
        """Rebuild the rows. ``policies``: the jobs' definitions by name, for the Retention
        column (what each job's retention keeps, and why; None: the last ones given);
        ``usage``: the space the points take, for On disk (None: the last one given);
        ``retained``: points retention dropped that immutable repositories still keep,
        greyed rows under their computer (None: the last ones given)."""
        self.points = list(points)
        if policies is not None:
            self.policies = dict(policies)
        if usage is not None:
            self.usage = usage
        if retained is not None:
            listed = {p.id for p in self.points}
            self.retained = [r for r in retained if r.info.id not in listed]

        def on_disk(value: int | None) -> tuple[str, int]:
            if value is None:
                return ("" if self.usage is None else "—"), -1
            return bytes_text(value), value
        decisions: dict[str, Decision] = {}
        for name, definition in self.policies.items():
            for d in decide([p for p in self.points if p.job == name],
                            definition.retain_points, definition.gfs):
                decisions[d.id] = d
        self.removeRows(0, self.rowCount())
        by_job: dict[str, dict[str, list[RestorePointInfo]]] = {}
        for p in sorted(points, key=lambda p: (p.created, p.id), reverse=True):
            by_job.setdefault(p.job, {}).setdefault(p.computer, []).append(p)
        locked: dict[str, dict[str, list[Retained]]] = {}
        for r in self.retained:
            locked.setdefault(r.info.job, {}).setdefault(r.info.computer, []).append(r)
            by_job.setdefault(r.info.job, {}).setdefault(r.info.computer, [])
        for job in sorted(by_job, key=str.casefold):
            computers = by_job[job]
            every = tuple(p for c in computers.values() for p in c)
            # The source's size: each computer by its newest point (newest first).
            size = sum(pts[0].size for pts in computers.values() if pts)
            files = sum(pts[0].files for pts in computers.values() if pts)
            disk, disk_sort = on_disk(self.usage.jobs.get(job) if self.usage else None)
            damaged = sum(1 for p in every if p.damaged)
            node = BackupNode("job", job, points=tuple(sorted(every, key=lambda p: p.created,
                                                              reverse=True)))
            policy = self.policies.get(job)
            copy = policy is not None and policy.is_copy
            job_row = _row(node, [job, "Backup copy" if copy else "Agent backup",
                                  str(len(every)), "",
                                  bytes_text(size), disk,
                                  f"{damaged} damaged" if damaged else "OK",
                                  policy_text(self.policies.get(job))],
                           "backup_copy" if copy else "jobs",
                           [job.casefold(), "", len(every), files, size, disk_sort,
                            damaged, ""])
            if copy and policy is not None:
                job_row[1].setToolTip(f"Copies of the restore points of '{policy.copy_source}'"
                                      f", kept in {policy.repository}")
            for computer in sorted(computers, key=str.casefold):
                pts = computers[computer]
                csize = pts[0].size if pts else 0   # the source's size: its newest point's
                cfiles = pts[0].files if pts else 0
                cdisk, cdisk_sort = on_disk(self.usage.computers.get(job, {}).get(computer)
                                            if self.usage else None)
                cnode = BackupNode("computer", job, computer, points=tuple(pts))
                cdamaged = sum(1 for p in pts if p.damaged)
                crow = _row(cnode, [computer, "Computer", str(len(pts)), str(cfiles),
                                    bytes_text(csize), cdisk,
                                    f"{cdamaged} damaged" if cdamaged else "OK", ""],
                            "computer",
                            [computer.casefold(), "", len(pts), cfiles, csize,
                             cdisk_sort, cdamaged, ""])
                for r in locked.get(job, {}).get(computer, []):
                    crow[0].appendRow(_retained_row(job, computer, r))
                for p in pts:
                    decision = decisions.get(p.id)
                    kept = retention_text(decision)
                    pdisk, pdisk_sort = on_disk(self.usage.points.get(p.id)
                                                if self.usage else None)
                    prow = _row(BackupNode("point", job, computer, point=p),
                                [datetime_text(p.created, seconds=True), p.type.value, "",
                                 str(p.files), bytes_text(p.size), pdisk,
                                 point_state(p), kept],
                                "point_damaged" if p.damaged else "point",
                                [p.created.timestamp(), p.type.value, 0, p.files,
                                 p.size, pdisk_sort, 1 if p.damaged else 0, kept])
                    if p.damaged:
                        for item in prow:
                            item.setForeground(DAMAGED)
                            item.setToolTip(p.damaged)
                    elif p.imported:
                        for item in prow:
                            item.setToolTip(IMPORTED_TIP)
                    if decision is not None:
                        prow[RETENTION_COLUMN].setToolTip(
                            NOT_KEPT_TIP if not decision.keep else
                            "Kept by: " + ", ".join(decision.reasons))
                        if not decision.keep:
                            prow[RETENTION_COLUMN].setForeground(DAMAGED)
                    crow[0].appendRow(prow)
                job_row[0].appendRow(crow)
            self.appendRow(job_row)


def _retained_row(job: str, computer: str, r: Retained) -> list[QStandardItem]:
    """A greyed row: a point retention dropped, kept by its repository's lock."""
    created = r.created
    until = r.info.locked_until
    text = retained_text(until)
    row = _row(BackupNode("retained", job, computer, retained=r),
               [datetime_text(created, seconds=True) if created else r.info.created,
                r.info.type, "", "", "", "", RETAINED_STATE, text],
               "point_locked",
               [created.timestamp() if created else 0.0, r.info.type, 0, -1, -1, -1, 2, text])
    tip = retained_tip(r.repository, until)
    for item in row:
        item.setForeground(RETAINED)
        item.setToolTip(tip)
    return row
