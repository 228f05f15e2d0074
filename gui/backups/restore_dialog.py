"""Restore files: pick a restore point of a computer, browse its tree (loaded
lazily from the server), check files and folders, and restore them to a
chosen folder or to the original location (which needs an explicit overwrite
confirmation; files that are not in the point are never deleted). The
restore runs in the server as a Restore session: progress and Cancel here."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup, QCheckBox, QComboBox, QDialog, QFileDialog, QGridLayout, QHBoxLayout,
    QHeaderView, QLabel, QLineEdit, QProgressBar, QPushButton, QRadioButton, QTreeView,
    QVBoxLayout, QWidget,
)

from core.models import RestorePointInfo, SessionInfo, SessionResult

from gui.widgets.formatting import bytes_text, datetime_text
from gui.backups.point_tree import PointTreeModel


def point_label(p: RestorePointInfo) -> str:
    return (f"{datetime_text(p.created, seconds=True)} — {p.type.value}, {p.files:,} file(s), "
            f"{bytes_text(p.size)}" + ("  (damaged)" if p.damaged else ""))


class RestoreDialog(QDialog):
    """``restoreRequested(point_id, target or None, paths, overwrite)``: the
    controller starts the restore and feeds the session back with
    :meth:`set_session`; ``cancelRequested`` cancels it."""

    restoreRequested = Signal(str, object, object, bool)
    cancelRequested = Signal()

    def __init__(self, model: PointTreeModel, points: Sequence[RestorePointInfo],
                 original: str | None, parent: QWidget | None = None, *,
                 point_id: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("RestoreDialog")
        self.model = model
        self.points = list(points)
        remote = bool(original and original.startswith("ssh://"))
        self.original = None if remote else original
        self.session: SessionInfo | None = None
        self.session_id: str | None = None
        self.folder_dialog: QFileDialog | None = None
        first = self.points[0]
        self.setWindowTitle(f"Restore Files — {first.computer}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(8)

        title = QLabel(f"Restore files of computer {first.computer} (job {first.job})", self)
        title.setObjectName("DialogQuestion")
        layout.addWidget(title)
        row = QHBoxLayout()
        row.addWidget(QLabel("Restore point:", self))
        self.point_combo = QComboBox(self)
        self.point_combo.setObjectName("RestorePointCombo")
        for p in self.points:
            self.point_combo.addItem(point_label(p), p.id)
        row.addWidget(self.point_combo, 1)
        layout.addLayout(row)

        self.tree = QTreeView(self)
        self.tree.setObjectName("RestoreTree")
        self.tree.setModel(model)
        self.tree.setUniformRowHeights(True)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setStretchLastSection(False)
        for column, width in ((1, 90), (2, 70), (3, 130)):
            self.tree.setColumnWidth(column, width)
        layout.addWidget(self.tree, 1)
        self.selection_label = QLabel("Check the files and folders to restore.", self)
        layout.addWidget(self.selection_label)

        where = QGridLayout()
        self.to_folder = QRadioButton("To another folder:", self)
        self.folder_edit = QLineEdit(self)
        self.folder_edit.setObjectName("RestoreFolder")
        self.folder_edit.setPlaceholderText("A new or empty folder")
        self.browse_button = QPushButton("Browse…", self)
        self.to_original = QRadioButton(self._original_text(original, remote), self)
        self.to_original.setEnabled(bool(self.original))
        if remote:
            self.to_original.setToolTip(f"{original} is a Linux computer reached over SSH: "
                                        "restore to a folder on the backup server, then copy "
                                        "the files to the computer.")
        self.overwrite = QCheckBox("Overwrite files that are in the restore point (files that "
                                   "are not in it are kept, never deleted)", self)
        self.overwrite.setObjectName("RestoreOverwrite")
        group = QButtonGroup(self)
        group.addButton(self.to_folder)
        group.addButton(self.to_original)
        self.to_folder.setChecked(True)
        where.addWidget(self.to_folder, 0, 0)
        where.addWidget(self.folder_edit, 0, 1)
        where.addWidget(self.browse_button, 0, 2)
        where.addWidget(self.to_original, 1, 0, 1, 3)
        where.addWidget(self.overwrite, 2, 0, 1, 3)
        layout.addLayout(where)

        self.progress = QProgressBar(self)
        self.progress.setObjectName("RestoreProgress")
        self.progress.setRange(0, 100)
        self.progress.hide()
        layout.addWidget(self.progress)
        self.result_label = QLabel("", self)
        self.result_label.setObjectName("RestoreResult")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.result_label)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.restore_button = QPushButton("Restore", self)
        self.restore_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel", self)
        buttons.addWidget(self.restore_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)

        self.point_combo.currentIndexChanged.connect(lambda _i: self._show_point())
        self.browse_button.clicked.connect(self._browse)
        for signal in (self.to_folder.toggled, self.overwrite.toggled,
                       self.folder_edit.textChanged):
            signal.connect(lambda *_: self._update())
        model.dataChanged.connect(lambda *_: self._update())
        model.rowsInserted.connect(lambda *_: self._update())
        self.restore_button.clicked.connect(self._restore)
        self.cancel_button.clicked.connect(self._cancel)
        if point_id is not None:
            self.point_combo.setCurrentIndex(max(0, self.point_combo.findData(point_id)))
        self._show_point()
        self.resize(760, 600)

    # -- the point and the selection -----------------------------------------------------
    @staticmethod
    def _original_text(original: str | None, remote: bool) -> str:
        if remote:
            return "To the original location (not available for a computer reached over SSH)"
        if original:
            return f"To the original location ({original})"
        return "To the original location (unknown: the job no longer protects this computer)"

    @property
    def point(self) -> RestorePointInfo:
        return self.points[max(0, self.point_combo.currentIndex())]

    def _show_point(self) -> None:
        p = self.point
        self.model.set_point(p.id, p.computer, p.files, p.size)
        root = self.model.root_index()
        if root.isValid():
            self.tree.expand(root)   # the view asks for the root folder's items
            if self.model.canFetchMore(root):
                self.model.fetchMore(root)
        self._update()

    @property
    def running(self) -> bool:
        return self.session_id is not None and (self.session is None
                                                or self.session.state.is_active)

    def _update(self) -> None:
        paths = self.model.selected_paths()
        files, size = self.model.selected_totals()
        if paths is None:
            self.selection_label.setText("Check the files and folders to restore.")
        elif not paths:
            self.selection_label.setText(f"The whole restore point: {files:,} file(s), "
                                         f"{bytes_text(size)}.")
        else:
            self.selection_label.setText(f"{len(paths)} item(s) checked: {files:,} file(s), "
                                         f"{bytes_text(size)}.")
        original = self.to_original.isChecked()
        self.folder_edit.setEnabled(not original)
        self.browse_button.setEnabled(not original)
        ready = paths is not None and (original and self.overwrite.isChecked()
                                       or not original and bool(self.folder_edit.text().strip()))
        self.restore_button.setEnabled(ready and not self.running)
        self.restore_button.setToolTip(
            "Confirm that files may be overwritten to restore to the original location"
            if original and not self.overwrite.isChecked() else "")
        for widget in (self.point_combo, self.tree, self.to_folder, self.to_original,
                       self.overwrite):
            widget.setEnabled(not self.running and (widget is not self.to_original
                                                    or bool(self.original)))
        if self.running:
            self.folder_edit.setEnabled(False)
            self.browse_button.setEnabled(False)

    def _browse(self) -> None:
        if self.folder_dialog is not None:
            return
        dialog = QFileDialog(self, "Restore to folder")
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        self.folder_dialog = dialog

        def chosen(path: str) -> None:
            self.folder_edit.setText(path)

        def closed(_result: int) -> None:
            self.folder_dialog = None
            dialog.deleteLater()

        dialog.fileSelected.connect(chosen)
        dialog.finished.connect(closed)
        dialog.open()

    # -- restoring -----------------------------------------------------------------------
    def _restore(self) -> None:
        paths = self.model.selected_paths()
        if paths is None:
            return
        target = None if self.to_original.isChecked() else \
            str(Path(self.folder_edit.text().strip()).expanduser())
        self.session = None
        self.session_id = ""   # asked for; the id follows
        self.progress.setValue(0)
        self.progress.show()
        self.result_label.setText("Starting the restore…")
        self.cancel_button.setText("Cancel")
        self._update()
        self.restoreRequested.emit(self.point.id, target, paths, self.overwrite.isChecked())

    def started(self, session_id: str) -> None:
        self.session_id = session_id
        self.result_label.setText("Restoring…")
        self._update()

    def start_failed(self, text: str) -> None:
        self.session_id = None
        self.progress.hide()
        self.result_label.setText(text)
        self._update()

    def set_session(self, session: SessionInfo) -> None:
        self.session = session
        self.progress.setValue(session.progress if session.state.is_active else 100
                               if session.result is SessionResult.SUCCESS else session.progress)
        op = session.operation
        task = session.tasks[0] if session.tasks else None
        if session.state.is_active:
            if task is not None:
                self.result_label.setText(
                    f"Restoring: {task.files_done:,} of {task.files_total:,} file(s), "
                    f"{bytes_text(task.bytes_processed)} of {bytes_text(task.bytes_total)}")
        elif session.result is SessionResult.SUCCESS and op is not None:
            self.result_label.setText(
                f"Restored {op.files:,} file(s), {op.dirs:,} folder(s), {op.symlinks:,} "
                f"symlink(s), {bytes_text(op.bytes)} to {op.target}.")
            self.cancel_button.setText("Close")
        else:
            errors = [i.text for i in session.log if i.level == "error"]
            self.result_label.setText("Restore failed: " + (errors[-1] if errors else
                                                            "see the session's log."))
            self.cancel_button.setText("Close")
        self._update()

    def _cancel(self) -> None:
        if self.running and self.session_id:
            self.cancelRequested.emit()
            self.result_label.setText("Cancelling…")
            return
        if not self.running:
            self.reject()
