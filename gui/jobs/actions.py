"""The job commands of the Home view's ribbon, the jobs list's right-click menu
and its keys. A shortcut shows in the action's menus and in its tooltip."""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from core.models import Permission
from gui.jobs.action_state import ActionState
from gui.widgets.actions import make_action
from gui.widgets.resources import icon


class JobActions(QObject):
    """One QAction per job command; enabled state follows the selection.

    Delete and Enter act on the jobs list only (the list adds them with a
    widget shortcut context), so typing in the search box never deletes."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.start = make_action(self, "start", "Start", "Start the selected jobs now",
                                 needs=Permission.RUN)
        self.stop = make_action(self, "stop", "Stop", "Stop the selected jobs",
                                needs=Permission.RUN)
        self.pause = make_action(self, "pause", "Pause",
                                 "Hold the selected jobs' computers where they are (what they "
                                 "sent is kept); Resume goes on later",
                                 needs=Permission.RUN)
        self.resume = make_action(self, "resume", "Resume",
                                  "Let the selected paused jobs go on where they stopped",
                                  needs=Permission.RUN)
        self.resume.setVisible(False)   # in Pause's place while the selection is paused
        self.retry = make_action(self, "retry", "Retry",
                             "Process again only the computers that failed in the last session",
                             needs=Permission.RUN)
        self.active_full = make_action(self, "active_full", "Active Full",
                                   "Read all data again and start a new backup chain",
                                   needs=Permission.RUN)
        self.edit = make_action(self, "edit", "Edit", "Edit the job's settings",
                            keys=[Qt.Key.Key_Enter, Qt.Key.Key_Return], key_text="Enter",
                            needs=Permission.EDIT_JOBS)
        self.clone = make_action(self, "clone", "Clone",
                             "Create a copy of the job with the same settings",
                             needs=Permission.EDIT_JOBS)
        self.toggle_enabled = make_action(self, "disable", "Disable",
                                      "Disable or enable the selected jobs",
                                      needs=Permission.EDIT_JOBS)
        self.delete = make_action(self, "delete", "Delete", "Delete the selected jobs",
                              keys=[QKeySequence.StandardKey.Delete], key_text="Delete",
                              needs=Permission.EDIT_JOBS)
        self.statistics = make_action(self, "statistics", "Statistics",
                                  "Show statistics of the job's last session")
        # Home > Backup Job: the button makes an agent backup job; its drop-down
        # offers both kinds (the same two items as the jobs list's menu off the rows)
        self.new_backup_job = make_action(self, "backup_job", "Backup Job",
                                      "Create an agent backup job (the arrow: a backup copy "
                                      "job)", enabled=True,
                                      needs=Permission.EDIT_JOBS)
        self.new_backup = make_action(self, "backup_job", "Backup...",
                                  "Create an agent backup job: back computers up to a "
                                  "repository", enabled=True,
                                  needs=Permission.EDIT_JOBS)
        self.new_backup_copy = make_action(self, "backup_copy", "Backup Copy...",
                                       "Create a backup copy job: copy the restore points "
                                       "of a backup job to another repository", enabled=True,
                                       needs=Permission.EDIT_JOBS)
        self.new_job_menu = QMenu()
        self.new_job_menu.setObjectName("NewJobMenu")
        self.new_job_menu.addActions(self.new_jobs())
        self.new_backup_job.setMenu(self.new_job_menu)
        self.new_backup.triggered.connect(self.new_backup_job.trigger)
        for action in (self.edit, self.delete):
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)

    def new_jobs(self) -> list[QAction]:
        """The kinds of job a new one can be: Backup... and Backup Copy..."""
        return [self.new_backup, self.new_backup_copy]

    def job_control(self) -> list[QAction]:
        return [self.start, self.stop, self.pause, self.resume, self.retry, self.active_full]

    def manage_job(self) -> list[QAction]:
        return [self.edit, self.clone, self.toggle_enabled, self.delete]

    def details(self) -> list[QAction]:
        return [self.statistics]

    #: the contextual ribbon page this node's actions fill when its items are selected
    RIBBON_PAGE, RIBBON_TOOLS = 'Job', 'Job Tools'

    def ribbon_groups(self) -> list[tuple[str, list[QAction]]]:
        """The groups of that page, in order: the window only places them."""
        return [("Job Control", self.job_control()), ("Manage Job", self.manage_job()),
                ("Details", self.details())]

    def keyboard(self) -> list[QAction]:
        """The actions the jobs list answers to with a key."""
        return [self.edit, self.delete]

    def apply(self, state: ActionState) -> None:
        self.start.setEnabled(state.start)
        self.stop.setEnabled(state.stop)
        self.pause.setEnabled(state.pause)
        self.resume.setEnabled(state.resume)
        # one place on the ribbon and in the menu: Resume while paused, else Pause
        self.pause.setVisible(not state.resume)
        self.resume.setVisible(state.resume)
        self.retry.setEnabled(state.retry)
        self.active_full.setEnabled(state.active_full)
        self.edit.setEnabled(state.edit)
        self.clone.setEnabled(state.clone)
        self.toggle_enabled.setEnabled(state.toggle_enabled)
        self.toggle_enabled.setText("Enable" if state.enable_label else "Disable")
        self.toggle_enabled.setIcon(icon("enable" if state.enable_label else "disable"))
        self.delete.setEnabled(state.delete)
        self.statistics.setEnabled(state.statistics)
