"""Who is asking, for the audit trail: a pure ASGI wrapper that gives each
HTTP request a fresh :class:`core.service.audit.Actor` (the server's own Unix
user, "local", until authentication names another) with where it came from —
the local socket, or the client's address."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from core.service.audit import Actor, acting_as

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


def origin_of(scope: Scope) -> str:
    client = scope.get("client")
    host = client[0] if client else ""
    return str(host) if host else "local socket"


class ActorMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with acting_as(Actor("local", origin_of(scope))):
            await self.app(scope, receive, send)
