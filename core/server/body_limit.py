"""Refuse request bodies over ``MAX_BODY_BYTES`` with 413, before reading them.

A pure ASGI wrapper, outside FastAPI: a body whose ``Content-Length`` is over
the limit is refused before a byte of it is read; a body without one (chunked)
is counted as it streams in, and refused at the chunk that passes the limit,
whatever the application was doing with it (FastAPI turns an error while it
reads a body into its own 400, so the answer is replaced, not raised).

The limit is far above the largest body a client sends (a restore of tens of
thousands of selected paths), and far below one that would keep the server
busy parsing: 128 MiB of JSON took 6.7 s before being refused as invalid.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 8 << 20
DRAIN_BYTES = 256 << 20   # the most of a refused streamed body read before answering
DRAIN_SECONDS = 2.0


def too_large_message(limit: int = MAX_BODY_BYTES) -> str:
    return (f"The request body is larger than the {limit >> 20} MiB the backup server "
            "accepts: send less at once (for example fewer paths or names per request).")


class _TooLarge(Exception):
    """The body passed the limit while it streamed in."""


class BodyLimit:
    """ASGI middleware: 413 ``{"error", "kind": "BodyTooLarge"}`` for a body over ``limit``."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(send)          # nothing of the body is read
            return

        received = 0
        over = False
        started = False   # the application's answer began (and was passed on)
        refused = False   # our 413 was sent in place of the application's answer

        async def counting_receive() -> Message:
            nonlocal received, over
            if over:
                raise _TooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    over = True
                    if message.get("more_body", False):
                        await _drain(receive)
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, refused
            if over and not started:
                if not refused:
                    refused = True
                    await self._refuse(send)
                return                        # the application's own answer is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            if started:
                raise
        if over and not started and not refused:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"error": too_large_message(self.limit),
                           "kind": "BodyTooLarge"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


async def _drain(receive: Receive) -> None:
    """Read and drop the rest of a refused body, within bounds, before the answer goes out.

    A connection closed with unread bytes in its receive buffer is reset, and
    the reset discards the 413 the client had not read yet: the client sees
    "connection closed" instead of the reason. So the rest is read first (as
    nginx's lingering close does), but never more than ``DRAIN_BYTES`` or for
    longer than ``DRAIN_SECONDS``: a client that never stops is answered anyway.
    """
    drained = 0

    async def rest() -> None:
        nonlocal drained
        while drained < DRAIN_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                return
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    try:
        await asyncio.wait_for(rest(), DRAIN_SECONDS)
    except asyncio.TimeoutError:
        pass


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
