"""Sending one message, synchronously: by SMTP (stdlib ``smtplib``) and to
each notification URL (apprise). Every failure comes back as a sentence
naming the destination and why; nothing raises."""
from __future__ import annotations

import importlib
import logging
import smtplib
import socket
import ssl
import threading
import warnings
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from core.models import NotificationSettings, SmtpSecurity, SmtpSettings
from core.service.notifications.compose import Message

log = logging.getLogger(__name__)

SMTP_TIMEOUT_S = 15.0
_apprise_lock = threading.Lock()
_apprise_module: Any = None


def apprise_module() -> Any:
    """apprise, with every plugin loaded once, its import-time
    DeprecationWarnings (imghdr and the like) kept from the operator."""
    global _apprise_module
    with _apprise_lock:
        if _apprise_module is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", PendingDeprecationWarning)
                module: Any = importlib.import_module("apprise")
                plugins: Any = importlib.import_module("apprise.manager_plugins")
                plugins.NotificationManager().load_modules()
            _apprise_module = module
        return _apprise_module


def url_problem(url: str) -> str | None:
    """Why apprise cannot use ``url``; None when it can."""
    apprise = apprise_module()
    if apprise.Apprise().add(url):
        return None
    scheme = url.partition("://")[0] or url
    return (f"apprise does not understand the notification URL '{url}' ({scheme}:// is not "
            "one of its services, or the URL lacks a part it needs). Write it as apprise's "
            "documentation shows, e.g. json://HOST:PORT/PATH, ntfy://TOPIC, "
            "slack://TOKEN_A/TOKEN_B/TOKEN_C.")


@dataclass(frozen=True)
class Outcome:
    destination: str      # "smtp host:port" or the URL
    ok: bool
    error: str | None = None


def _redacted(url: str) -> str:
    """The URL without the password part of user:password@."""
    scheme, sep, rest = url.partition("://")
    auth, at, tail = rest.partition("@")
    if at and ":" in auth:
        return f"{scheme}{sep}{auth.split(':', 1)[0]}:***@{tail}"
    return url


def _text(said: bytes | str) -> str:
    return said.decode(errors="replace") if isinstance(said, bytes) else said


def send_smtp(smtp: SmtpSettings, password: str | None, message: Message) -> Outcome:
    where = f"mail server {smtp.host}:{smtp.port}"
    recipients = list(dict.fromkeys([*smtp.to, *message.extra_to]))
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = smtp.sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or None)
    mail.set_content(message.body)
    try:
        client: smtplib.SMTP
        if smtp.security is SmtpSecurity.SSL:
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_S,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_S)
        with client:
            if smtp.security is SmtpSecurity.STARTTLS:
                client.starttls(context=ssl.create_default_context())
            if smtp.user:
                client.login(smtp.user, password or "")
            refused = client.send_message(mail, from_addr=smtp.sender, to_addrs=recipients)
        if refused:
            return Outcome(where, False, f"{where} refused "
                           + ", ".join(f"{a} ({c} {e!r})" for a, (c, e) in refused.items()))
        return Outcome(where, True)
    except smtplib.SMTPAuthenticationError as exc:
        return Outcome(where, False, f"{where} refused the login of {smtp.user}: "
                       f"{exc.smtp_code} {_text(exc.smtp_error)}")
    except smtplib.SMTPResponseException as exc:
        return Outcome(where, False, f"{where} answered {exc.smtp_code} "
                       f"{_text(exc.smtp_error)}")
    except (smtplib.SMTPException, ssl.SSLError, socket.timeout, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else \
            (str(exc) or exc.__class__.__name__)
        return Outcome(where, False, f"{where} could not be reached or refused the mail: "
                       f"{reason}")


def send_url(url: str, message: Message) -> Outcome:
    where = _redacted(url)
    apprise = apprise_module()
    sender = apprise.Apprise()
    if not sender.add(url):
        return Outcome(where, False, url_problem(url))
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = bool(sender.notify(title=message.subject, body=message.body))
    if ok:
        return Outcome(where, True)
    said = [line.split(" - ", 2)[-1] for line in captured.getvalue().splitlines() if line]
    return Outcome(where, False, f"{where}: " + ("; ".join(said[-2:]) or "apprise could not "
                                                  "deliver the notification"))


def deliver(settings: NotificationSettings, password: str | None,
            message: Message) -> list[Outcome]:
    """Send ``message`` everywhere the settings say; one outcome per destination."""
    outcomes: list[Outcome] = []
    if settings.smtp is not None:
        outcomes.append(send_smtp(settings.smtp, password, message))
    for url in settings.urls:
        try:
            outcomes.append(send_url(url, message))
        except Exception as exc:   # a plugin's own bug must not end the sender
            log.exception("apprise failed on %s", _redacted(url))
            outcomes.append(Outcome(_redacted(url), False,
                                    f"{_redacted(url)}: {exc.__class__.__name__}: {exc}"))
    return outcomes
