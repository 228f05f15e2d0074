"""One asyncio loop on a daemon thread for every SSH connection of the
process; task threads wait on it cancel-aware."""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from core.agents.base import Cancelled

T = TypeVar("T")
POLL_S = 0.05

logging.getLogger("asyncssh").setLevel(logging.WARNING)   # not every channel's open/close

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            new = asyncio.new_event_loop()
            threading.Thread(target=new.run_forever, name="ssh-loop", daemon=True).start()
            _loop = new
        return _loop


def call(coro: Coroutine[Any, Any, T], cancel: threading.Event | None = None,
         timeout: float | None = None, discard: Callable[[T], None] | None = None) -> T:
    """Run ``coro`` on the loop and wait for it. Cancelled (the coroutine is
    cancelled too) once ``cancel`` is set; TimeoutError after ``timeout``.
    ``discard`` gets a result that arrives after the caller gave up."""
    fut = asyncio.run_coroutine_threadsafe(coro, loop())

    def give_up() -> None:
        fut.cancel()
        if discard is not None:
            fut.add_done_callback(
                lambda f: discard(f.result()) if not f.cancelled() and f.exception() is None
                else None)

    waited = 0.0
    while True:
        if cancel is not None and cancel.is_set():
            give_up()
            raise Cancelled
        done, _ = concurrent.futures.wait([fut], POLL_S)
        if done:
            return fut.result()
        waited += POLL_S
        if timeout is not None and waited >= timeout:
            give_up()
            raise TimeoutError


def soon(callback: Callable[..., object], *args: Any) -> None:
    loop().call_soon_threadsafe(callback, *args)
