"""Main menu → Options → Notifications: where the backup server sends job
results, the daily summary and RPO alerts: a mail server (SMTP) and any
number of notification URLs in apprise's syntax. Which results each job
sends is set in its wizard's Notifications step.

The settings are read and written through the TaskRunner: the GUI thread
never waits on the server. The SMTP password goes to the server, which keeps
it in DATA_DIR/secrets; the dialog never shows it."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTime
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QGridLayout, QGroupBox, QHBoxLayout,
    QLabel, QLineEdit, QListWidget, QPushButton, QSpinBox, QTimeEdit, QVBoxLayout, QWidget,
)
from pydantic import SecretStr, ValidationError
from shiboken6 import isValid

from core.api import NotificationTest
from core.models import NotificationSettings, SmtpSecurity, SmtpSettings

from gui.jobs.wizard.fields import ErrorLabel
from gui.runtime.worker import TaskRunner

EXPLANATION = (
    "The backup server tells you when a job's session ends (by default: with a warning or "
    "failed; each job's wizard chooses), sends a daily summary, and alerts when a computer "
    "has had no new restore point for a job's RPO. Sending never delays a backup; what "
    "could not be sent is shown below and in 'agent-jobs server status'.")
SECURITY = [("None", SmtpSecurity.NONE), ("STARTTLS", SmtpSecurity.STARTTLS),
            ("SSL/TLS", SmtpSecurity.SSL)]
PORT_OF = {SmtpSecurity.NONE: 25, SmtpSecurity.STARTTLS: 587, SmtpSecurity.SSL: 465}
KEPT = "(kept)"


def status_text(status: dict[str, Any] | None) -> str:
    if not status:
        return ""
    text = f"Since the server started: {status.get('sent', 0)} sent, " \
           f"{status.get('failed', 0)} not sent"
    if status.get("queued"):
        text += f", {status['queued']} waiting"
    if status.get("last_error"):
        text += f". Last failure: {status['last_error']}"
    return text + "."


class NotificationsDialog(QDialog):
    def __init__(self, service: Any, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("NotificationsDialog")
        self.setWindowTitle("Notifications")
        self._service = service
        self._runner = runner
        self._password_set = False
        layout = QVBoxLayout(self)
        text = QLabel(EXPLANATION, self)
        text.setWordWrap(True)
        layout.addWidget(text)

        # -- e-mail
        mail = QGroupBox("E-mail", self)
        grid = QGridLayout(mail)
        self.use_smtp = QCheckBox("Send e-mail through this mail server", mail)
        self.use_smtp.setObjectName("UseSmtp")
        grid.addWidget(self.use_smtp, 0, 0, 1, 4)
        grid.addWidget(QLabel("Mail server:", mail), 1, 0)
        self.host_edit = QLineEdit(mail)
        self.host_edit.setObjectName("SmtpHost")
        self.host_edit.setPlaceholderText("mail.example.com")
        grid.addWidget(self.host_edit, 1, 1)
        grid.addWidget(QLabel("Port:", mail), 1, 2)
        self.port_spin = QSpinBox(mail)
        self.port_spin.setObjectName("SmtpPort")
        self.port_spin.setRange(1, 65535)
        self.port_spin.setValue(25)
        grid.addWidget(self.port_spin, 1, 3)
        grid.addWidget(QLabel("Security:", mail), 2, 0)
        self.security_combo = QComboBox(mail)
        self.security_combo.setObjectName("SmtpSecurity")
        for words, value in SECURITY:
            self.security_combo.addItem(words, value)
        grid.addWidget(self.security_combo, 2, 1)
        grid.addWidget(QLabel("Login:", mail), 3, 0)
        self.user_edit = QLineEdit(mail)
        self.user_edit.setObjectName("SmtpUser")
        self.user_edit.setPlaceholderText("(none: the server takes mail without a login)")
        grid.addWidget(self.user_edit, 3, 1)
        grid.addWidget(QLabel("Password:", mail), 3, 2)
        self.password_edit = QLineEdit(mail)
        self.password_edit.setObjectName("SmtpPassword")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setToolTip("The server keeps the password in DATA_DIR/secrets, "
                                      "readable by its user only. Type to replace it.")
        grid.addWidget(self.password_edit, 3, 3)
        grid.addWidget(QLabel("From:", mail), 4, 0)
        self.sender_edit = QLineEdit(mail)
        self.sender_edit.setObjectName("SmtpFrom")
        self.sender_edit.setPlaceholderText("backup@example.com")
        grid.addWidget(self.sender_edit, 4, 1, 1, 3)
        grid.addWidget(QLabel("To:", mail), 5, 0)
        self.to_edit = QLineEdit(mail)
        self.to_edit.setObjectName("SmtpTo")
        self.to_edit.setPlaceholderText("ops@example.com, another@example.com")
        grid.addWidget(self.to_edit, 5, 1, 1, 3)
        grid.setColumnStretch(1, 1)
        layout.addWidget(mail)
        self._mail_fields: list[QWidget] = [self.host_edit, self.port_spin, self.security_combo,
                                            self.user_edit, self.password_edit,
                                            self.sender_edit, self.to_edit]

        # -- notification URLs
        urls = QGroupBox("Notification URLs (apprise)", self)
        box = QVBoxLayout(urls)
        hint = QLabel("json://HOST:PORT/PATH posts JSON; ntfy://TOPIC, slack://TOKEN_A/TOKEN_B/"
                      "TOKEN_C, hc://... and every other service apprise knows.", urls)
        hint.setWordWrap(True)
        hint.setObjectName("WizardCaption")
        box.addWidget(hint)
        self.url_list = QListWidget(urls)
        self.url_list.setObjectName("NotificationUrls")
        self.url_list.setMaximumHeight(90)
        box.addWidget(self.url_list)
        row = QHBoxLayout()
        self.url_edit = QLineEdit(urls)
        self.url_edit.setObjectName("NotificationUrl")
        self.url_edit.setPlaceholderText("json://127.0.0.1:8080/hook")
        row.addWidget(self.url_edit, 1)
        self.add_url_button = QPushButton("Add", urls)
        self.remove_url_button = QPushButton("Remove", urls)
        row.addWidget(self.add_url_button)
        row.addWidget(self.remove_url_button)
        box.addLayout(row)
        layout.addWidget(urls)

        # -- the daily summary
        summary = QHBoxLayout()
        self.use_summary = QCheckBox("Send a daily summary at", self)
        self.use_summary.setObjectName("UseSummary")
        self.summary_time = QTimeEdit(QTime(7, 0), self)
        self.summary_time.setObjectName("SummaryAt")
        self.summary_time.setDisplayFormat("HH:mm")
        summary.addWidget(self.use_summary)
        summary.addWidget(self.summary_time)
        summary.addWidget(QLabel("(every job's last result, failures and their reasons, "
                                 "repositories' free space)", self))
        summary.addStretch(1)
        layout.addLayout(summary)

        self.status = QLabel("", self)
        self.status.setObjectName("NotificationStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.test_result = QLabel("", self)
        self.test_result.setObjectName("NotificationTestResult")
        self.test_result.setWordWrap(True)
        layout.addWidget(self.test_result)
        self.error = ErrorLabel(self)
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.test_button = self.buttons.addButton("Save and Send Test",
                                                  QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        self.test_button.clicked.connect(self._save_and_test)
        layout.addWidget(self.buttons)

        self.use_smtp.toggled.connect(self._enable)
        self.use_summary.toggled.connect(self._enable)
        self.security_combo.currentIndexChanged.connect(self._security_changed)
        self.add_url_button.clicked.connect(self._add_url)
        self.url_edit.returnPressed.connect(self._add_url)
        self.remove_url_button.clicked.connect(self._remove_url)
        self.url_list.currentRowChanged.connect(self._enable)
        self.resize(640, self.sizeHint().height())
        self._busy(True)   # until the current settings arrive
        self._enable()
        self.loaded = False
        self.tested = 0    # test answers shown (for tests)
        runner.submit(self._fetch, self._landed, self._failed)

    # -- state ------------------------------------------------------------------
    def _busy(self, busy: bool) -> None:
        for button in (self._ok(), self.test_button):
            button.setEnabled(not busy)

    def _ok(self) -> Any:
        return self.buttons.button(QDialogButtonBox.StandardButton.Ok)

    def _enable(self, *_args: object) -> None:
        on = self.use_smtp.isChecked()
        for widget in self._mail_fields:
            widget.setEnabled(on)
        self.summary_time.setEnabled(self.use_summary.isChecked())
        self.remove_url_button.setEnabled(self.url_list.currentRow() >= 0)

    def _security_changed(self, *_args: object) -> None:
        """A port that is some security's default follows the security chosen."""
        if self.port_spin.value() in PORT_OF.values():
            self.port_spin.setValue(PORT_OF[self.security_combo.currentData()])

    def urls(self) -> list[str]:
        return [self.url_list.item(i).text() for i in range(self.url_list.count())]

    def _add_url(self) -> None:
        url = self.url_edit.text().strip()
        if not url:
            self.error.show_error("Type in a notification URL, e.g. json://HOST:PORT/PATH.")
            return
        try:
            NotificationSettings(urls=(url,))
        except ValidationError as exc:
            self.error.show_error(_message(exc))
            return
        if url not in self.urls():
            self.url_list.addItem(url)
        self.url_edit.clear()
        self.error.show_error(None)
        self._enable()

    def _remove_url(self) -> None:
        row = self.url_list.currentRow()
        if row >= 0:
            self.url_list.takeItem(row)
        self._enable()

    # -- loading ----------------------------------------------------------------
    def _fetch(self) -> tuple[NotificationSettings, dict[str, Any] | None]:
        settings = self._service.get_notifications()
        info = self._service.server_info() or {}
        return settings, info.get("notifications")

    def _landed(self, answer: tuple[NotificationSettings, dict[str, Any] | None]) -> None:
        if not isValid(self):
            return
        settings, status = answer
        smtp = settings.smtp
        self.use_smtp.setChecked(smtp is not None)
        if smtp is not None:
            self.host_edit.setText(smtp.host)
            self.security_combo.blockSignals(True)
            self.security_combo.setCurrentIndex(
                [value for _w, value in SECURITY].index(smtp.security))
            self.security_combo.blockSignals(False)
            self.port_spin.setValue(smtp.port)
            self.user_edit.setText(smtp.user or "")
            self.sender_edit.setText(smtp.sender)
            self.to_edit.setText(", ".join(smtp.to))
            self._password_set = smtp.password_set
            self.password_edit.setPlaceholderText(KEPT if smtp.password_set else "")
        self.url_list.clear()
        self.url_list.addItems(list(settings.urls))
        self.use_summary.setChecked(settings.summary_at is not None)
        if settings.summary_at is not None:
            self.summary_time.setTime(QTime.fromString(settings.summary_at, "HH:mm"))
        self.status.setText(status_text(status))
        self.loaded = True
        self._busy(False)
        self._enable()

    def _failed(self, exc: BaseException) -> None:
        if isValid(self):
            self.error.show_error(str(exc))
            self._busy(False)

    # -- saving -----------------------------------------------------------------
    def settings(self) -> tuple[NotificationSettings, SecretStr | None]:
        """What the dialog shows, as the server's model and the password to
        keep (None: keep the kept one). ValueError in the operator's words."""
        smtp: SmtpSettings | None = None
        password: SecretStr | None = None
        if self.use_smtp.isChecked():
            if not self.host_edit.text().strip():
                raise ValueError("Type in the mail server's name or address.")
            to = tuple(a.strip() for a in self.to_edit.text().replace(";", ",").split(",")
                       if a.strip())
            if not self.sender_edit.text().strip():
                raise ValueError("Type in the address the notifications come From.")
            if not to:
                raise ValueError("Type in at least one address the notifications go To.")
            user = self.user_edit.text().strip() or None
            try:
                smtp = SmtpSettings(host=self.host_edit.text(), port=self.port_spin.value(),
                                    security=self.security_combo.currentData(), user=user,
                                    sender=self.sender_edit.text(), to=to)
            except ValidationError as exc:
                raise ValueError(_message(exc)) from None
            if user is None:
                password = SecretStr("")          # no login: no password kept
            elif self.password_edit.text():
                password = SecretStr(self.password_edit.text())
        summary = self.summary_time.time().toString("HH:mm") if self.use_summary.isChecked() \
            else None
        try:
            return NotificationSettings(smtp=smtp, urls=tuple(self.urls()),
                                        summary_at=summary), password
        except ValidationError as exc:
            raise ValueError(_message(exc)) from None

    def _submit_save(self, then: Any) -> None:
        try:
            settings, password = self.settings()
        except ValueError as exc:
            self.error.show_error(str(exc))
            return
        self.error.show_error(None)
        self._busy(True)
        self._runner.submit(lambda: then(settings, password), self._done, self._failed)

    def _save(self) -> None:
        def save(settings: NotificationSettings, password: SecretStr | None) -> str:
            self._service.set_notifications(settings, password)
            return "saved"
        self._submit_save(save)

    def _save_and_test(self) -> None:
        def save_and_test(settings: NotificationSettings,
                          password: SecretStr | None) -> list[NotificationTest]:
            saved = self._service.set_notifications(settings, password)
            if not saved.configured:
                raise ValueError("Nothing to test: tick Send e-mail or add a notification URL.")
            result: list[NotificationTest] = self._service.test_notifications()
            return result
        self._submit_save(save_and_test)

    def _done(self, answer: object) -> None:
        if not isValid(self):
            return
        if answer == "saved":
            self.accept()
            return
        self._busy(False)
        if self.password_edit.text() and self.user_edit.text().strip():
            self.password_edit.setPlaceholderText(KEPT)   # the server keeps it now
        self.password_edit.clear()
        results = answer if isinstance(answer, list) else []
        self.test_result.setText("\n".join(
            f"{r.destination}: " + ("test message delivered" if r.ok else
                                    f"NOT delivered: {r.error}") for r in results))
        self.tested += 1


def _message(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc)
    msg = str(errors[0].get("msg", exc)).removeprefix("Value error, ")
    return msg[0].upper() + msg[1:] + ("" if msg.endswith(".") else ".")
