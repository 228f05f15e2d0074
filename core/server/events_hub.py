"""Fans the service's events out to every open event stream.

Engine threads publish; each stream has its own pending set on the server's
event loop. Repeats of an event not yet sent are dropped (a session's
progress flushes four times a second), so a slow client never falls behind.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable

from core.events import Event
from core.api.wire import encode_event

KEEPALIVE_S = 15.0


class _Stream:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: dict[Event, None] = {}
        self.ready = asyncio.Event()

    def push(self, event: Event) -> None:   # on the event loop
        self.pending[event] = None
        self.ready.set()

    def drain(self) -> list[Event]:
        events = list(self.pending)
        self.pending.clear()
        self.ready.clear()
        return events


class EventHub:
    def __init__(self, subscribe: Callable[[Callable[[Event], None]], Callable[[], None]]) -> None:
        self._streams: set[_Stream] = set()
        self._lock = threading.Lock()
        self._closing = False
        self._unsubscribe = subscribe(self._publish)

    @property
    def stream_count(self) -> int:
        with self._lock:
            return len(self._streams)

    def _publish(self, event: Event) -> None:   # engine threads
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            try:
                stream.loop.call_soon_threadsafe(stream.push, event)
            except RuntimeError:   # that loop has closed
                pass

    def recheck(self) -> None:
        """Wake every stream without an event: each asks again whether its user's token
        is still valid (any thread)."""
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            try:
                stream.loop.call_soon_threadsafe(stream.ready.set)
            except RuntimeError:
                pass

    def close(self) -> None:
        """End every stream (the server is shutting down)."""
        self._unsubscribe()
        with self._lock:
            self._closing = True
        self.recheck()   # each stream wakes and sees the hub closing

    async def stream(self, still_valid: Callable[[], bool] | None = None) -> AsyncIterator[str]:
        """Server-Sent Events: one ``data:`` line of JSON per event. ``still_valid``
        (a login token's check) is asked at every wake-up, events or keep-alive: a
        user disabled, or a token that ended, loses the stream there."""
        stream = _Stream(asyncio.get_running_loop())
        with self._lock:
            if self._closing:
                return
            self._streams.add(stream)
        try:
            yield "retry: 1000\n\n: connected\n\n"
            while not self._closing:
                try:
                    await asyncio.wait_for(stream.ready.wait(), KEEPALIVE_S)
                except asyncio.TimeoutError:
                    if still_valid is not None and not still_valid():
                        return
                    yield ": keep-alive\n\n"
                    continue
                if still_valid is not None and not still_valid():
                    return
                events = stream.drain()
                if events:
                    yield "".join(f"data: {encode_event(e)}\n\n" for e in events)
        finally:
            with self._lock:
                self._streams.discard(stream)
