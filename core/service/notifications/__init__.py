"""Notifications: e-mail (SMTP, stdlib ``smtplib``) and notification URLs
(apprise) when a job's session ends, a daily summary at a set time, and an
alert when a computer has had no new restore point for a job's RPO.

Modules: ``store`` (the settings in the catalogue, the SMTP password under
``DATA_DIR/secrets``), ``compose`` (the messages' words), ``delivery``
(sending one message, synchronously), ``outbox`` (a background thread and
queue: sending never delays or fails a session; failures are logged and
counted), ``desk`` (what the server asks: settings, a session ended, the
clock's tick).
"""
from __future__ import annotations

from core.service.notifications.desk import Notifications

__all__ = ["Notifications"]
