"""Where the notification settings live: the catalogue's server state (one
JSON value), and the SMTP password in ``DATA_DIR/secrets`` (0600)."""
from __future__ import annotations

import logging

from core.catalogue import Catalogue
from core.models import NotificationSettings
from core.service.registry import SecretStore

log = logging.getLogger(__name__)

SETTINGS_KEY = "notifications.settings"
PASSWORD_FILE = "notifications-smtp.password"


def load_settings(catalogue: Catalogue) -> NotificationSettings:
    text = catalogue.get_state(SETTINGS_KEY)
    if not text:
        return NotificationSettings()
    try:
        return NotificationSettings.model_validate_json(text)
    except ValueError:
        log.warning("ignoring unreadable notification settings %r", text)
        return NotificationSettings()


class SettingsStore:
    def __init__(self, catalogue: Catalogue, secrets: SecretStore) -> None:
        self._catalogue = catalogue
        self._secrets = secrets

    def load(self) -> NotificationSettings:
        settings = load_settings(self._catalogue)
        if settings.smtp is not None:
            has = self.password() is not None
            if settings.smtp.password_set != has:
                settings = settings.model_copy(update={
                    "smtp": settings.smtp.model_copy(update={"password_set": has})})
        return settings

    def save(self, settings: NotificationSettings) -> None:
        self._catalogue.set_state(SETTINGS_KEY, settings.model_dump_json())

    def password(self) -> str | None:
        return self._secrets.get(PASSWORD_FILE)

    def set_password(self, password: str | None) -> None:
        """Keep ``password``; None (or empty) removes the one kept."""
        if password:
            self._secrets.put(PASSWORD_FILE, password)
        else:
            self._secrets.drop(PASSWORD_FILE)
