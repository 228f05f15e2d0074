"""Who a request runs as (issue 23), decided before the app sees it.

* The local socket (0600, the server's own Unix user): the server's own user,
  an administrator (:data:`LOCAL_ADMIN`), as before users existed.
* The TCP listener: ``Authorization: Bearer <token>`` with either the data
  directory's ``server.token`` (an administrator too: only the server's Unix user
  can read it) or a token from ``POST /api/v1/login`` (that user and role).
  Without one, only the login route answers; anything else is 401.

The app's ``authorize`` dependency then checks the route's permission
(:mod:`core.server.permissions`) and names the user for the audit trail."""
from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.responses import JSONResponse

from core.service.users import LOCAL_ADMIN, Principal, Users

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
PRINCIPAL = "agent_jobs.principal"
STILL_VALID = "agent_jobs.still_valid"   # a login token's check, for long-lived streams
LOGIN_PATH = "/api/v1/login"


def principal_of(scope: Scope) -> Principal | None:
    found = scope.get(PRINCIPAL)
    return found if isinstance(found, Principal) else None


def still_valid_of(scope: Scope) -> Callable[[], bool] | None:
    """For a request made with a login token: whether that token still names an
    enabled user (a long-lived event stream asks it at each wake-up); None otherwise."""
    found = scope.get(STILL_VALID)
    return found if callable(found) else None


def local_socket(app: ASGIApp) -> ASGIApp:
    async def as_local(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope[PRINCIPAL] = LOCAL_ADMIN
        await app(scope, receive, send)

    return as_local


def _bearer(scope: Scope) -> str:
    for name, value in scope.get("headers") or []:
        if name == b"authorization":
            text = bytes(value).decode("latin-1")
            scheme, _, token = text.partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return ""


def tcp_listener(app: ASGIApp, server_token: str, users: Users) -> ASGIApp:
    expected = server_token.encode()

    async def guarded(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            token = _bearer(scope)
            principal: Principal | None = None
            if token and hmac.compare_digest(token.encode("latin-1", "replace"), expected):
                principal = LOCAL_ADMIN
            elif token:
                principal = users.principal(token)
                if principal is not None:
                    scope[STILL_VALID] = lambda: users.principal(token) is not None
            if principal is None and scope.get("path") != LOGIN_PATH:
                response = JSONResponse(
                    {"error": "Missing, wrong or expired bearer token: log in (POST "
                              f"{LOGIN_PATH}, or 'agent-jobs --server URL --user NAME'), or "
                              "send 'Authorization: Bearer <token>' with the token from the "
                              "data directory's server.token file.", "kind": "Unauthorized"},
                    status_code=401, headers={"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
            scope[PRINCIPAL] = principal
        await app(scope, receive, send)

    return guarded
