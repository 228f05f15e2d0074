"""Real receivers for the notification tests, on loopback: an SMTP server
(aiosmtpd) that keeps every mail, an HTTP server that keeps every JSON body
posted to it (apprise's json://), and a "dead" mail server that takes the
connection and never says a word."""
from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    """What a receiver got, in order, and a way to wait for it."""

    items: list[Any] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def add(self, item: Any) -> None:
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: len(self.items) >= count, timeout)


@dataclass
class Mail:
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        return str(part.get_content()) if part is not None else ""


class _Handler:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.inbox.add(Mail(list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@dataclass
class SmtpSink:
    host: str
    port: int
    inbox: Inbox

    @property
    def mails(self) -> list[Mail]:
        return list(self.inbox.items)


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    inbox = Inbox()
    controller = Controller(_Handler(inbox), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpSink("127.0.0.1", controller.port, inbox)
    finally:
        controller.stop()


@dataclass
class HookSink:
    url: str             # apprise's json:// URL for it
    inbox: Inbox

    @property
    def posts(self) -> list[dict[str, Any]]:
        return list(self.inbox.items)


@contextmanager
def hook_sink(path: str = "hook") -> Iterator[HookSink]:
    inbox = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            try:
                inbox.add({"path": self.path, **json.loads(body)})
            except ValueError:
                inbox.add({"path": self.path, "raw": body.decode(errors="replace")})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HookSink(f"json://127.0.0.1:{server.server_address[1]}/{path}", inbox)
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def dead_smtp() -> Iterator[tuple[str, int, socket.socket]]:
    """A listening socket that never accepts: a client connects and then
    waits for a greeting that never comes (until the socket is closed)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield "127.0.0.1", int(sock.getsockname()[1]), sock
    finally:
        sock.close()
