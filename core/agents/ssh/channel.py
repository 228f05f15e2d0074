"""Frames between the agent's process on the computer and a task thread.

A pump on the SSH loop reads frames into a bounded inbox (beyond
``HIGH_WATER`` bytes it stops reading, so SSH flow control holds the agent
back); the task thread takes them with ``get``, which waits cancel-aware.
Closing aborts the connection at once: the agent sees its stdin end and
exits, even in the middle of a read.

The agent's heartbeats (``H`` frames) never reach the inbox: they feed a
watchdog (watchdog.py) that gives the computer up when the agent stops
sending them, or stops making progress, for ``silence_s``: the waiting task
thread then fails with one plain line, and the agent is killed."""
from __future__ import annotations

import asyncio
import collections
import threading
from typing import Any

from core.agents.ssh.sshlib import asyncssh

from core.agents.base import Cancelled

from core.agents.ssh import loop
from core.agents.ssh.agent_src.backup_agent import wire
from core.agents.ssh.connect import Opened
from core.agents.ssh.errors import ConnectionLostError
from core.agents.ssh.watchdog import Watchdog, heartbeat_every, stall_s

HIGH_WATER = 8 << 20
READ_SIZE = 1 << 20
POLL_S = 0.05
STDERR_KEEP = 4096
KILL_TIMEOUT_S = 2.0   # a given-up agent: how long its kill may take before the abort


class AgentChannel:
    def __init__(self, opened: Opened, where: str, silence_s: float | None = None) -> None:
        self.opened = opened
        self.where = where
        self.received = 0          # bytes received from the agent (frames)
        self.sent = opened.sent    # bytes sent to the computer (the zipapp, then frames)
        self._frames: collections.deque[tuple[bytes, bytes]] = collections.deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._end: str | None = None        # why no more frames come
        self._silent = False                # the computer stopped answering keep-alives
        self._room: asyncio.Event | None = None
        self._closed = False
        self._stderr = b""
        self._tasks: list[asyncio.Task[None]] = []
        self.watchdog = Watchdog(stall_s() if silence_s is None else silence_s)
        self._stalled = ""                  # "heartbeat" | "progress": the agent was given up
        self._killer: asyncio.Task[None] | None = None   # kills a given-up agent, then aborts

    async def start(self) -> None:
        self._room = asyncio.Event()
        self._room.set()
        beat = wire.message({"t": "heartbeat",
                             "every": heartbeat_every(self.watchdog.silence_s)})
        self.opened.process.stdin.write(beat)
        self.sent += len(beat)
        self.watchdog.resume()
        self._tasks = [asyncio.ensure_future(self._pump()),
                       asyncio.ensure_future(self._drain_stderr()),
                       asyncio.ensure_future(self._watch())]

    def _started(self) -> asyncio.Event:
        """The room event, which start() makes on the loop."""
        assert self._room is not None, "the channel is used before start()"
        return self._room

    # -- loop side -----------------------------------------------------------
    async def _pump(self) -> None:
        stdout = self.opened.process.stdout
        room = self._started()
        why = "the agent ended its output"
        buf = bytearray()
        head = wire.HEADER.size
        try:
            while True:
                # Whatever has arrived, then every whole frame in it: small
                # frames often share an SSH packet, and each read costs.
                chunk = await stdout.read(READ_SIZE)
                if not chunk:
                    self.watchdog.pause()   # it ended: the reason follows, not a stall
                    why = await self._why_ended()
                    break
                buf += chunk
                frames = []
                pos = 0
                beats = 0    # bytes of heartbeats: the rest is the work's output
                while len(buf) - pos >= head:
                    kind, n = wire.header(bytes(buf[pos:pos + head]))
                    if len(buf) - pos - head < n:
                        break
                    body = bytes(buf[pos + head:pos + head + n])
                    pos += head + n
                    if kind == wire.HEARTBEAT:
                        counter, waiting = wire.BEAT.unpack(body)
                        self.watchdog.heartbeat(counter, bool(waiting))
                        beats += head + n
                    else:
                        frames.append((kind, body))
                if len(chunk) > beats:
                    self.watchdog.output()
                if not pos:
                    continue
                del buf[:pos]
                if not frames:
                    self.received += pos
                    continue
                with self._cond:
                    self._frames.extend(frames)
                    self._bytes += pos - beats   # what get() takes out again
                    self.received += pos
                    self._cond.notify_all()
                    full = self._bytes > HIGH_WATER
                    if full:
                        room.clear()
                if full:
                    self.watchdog.pause()
                    await room.wait()
                    self.watchdog.resume()
        except asyncio.CancelledError:
            why = "the connection was closed"
            raise
        except (asyncssh.Error, OSError, ValueError) as exc:
            why = f"{getattr(exc, 'reason', None) or exc}"
            self._silent = isinstance(exc, asyncssh.ConnectionLost) and "keepalive" in why
        finally:
            with self._cond:
                if self._end is None:
                    self._end = why
                self._cond.notify_all()

    async def _watch(self) -> None:
        """Give the agent up once the watchdog says so: the task thread's
        wait ends with the reason, and the agent is killed (the session's
        other computers go on)."""
        step = min(0.5, self.watchdog.silence_s / 10)
        try:
            while self._end is None:
                await asyncio.sleep(step)
                stalled = self.watchdog.overdue()
                if stalled is None:
                    continue
                self._killer = asyncio.ensure_future(self._give_up())
                with self._cond:
                    if self._end is None:
                        self._stalled = stalled
                        self._end = "the agent was given up"
                    self._cond.notify_all()
                return
        except asyncio.CancelledError:
            return

    async def _give_up(self) -> None:
        """Kill the agent, then abort the connection. Its sshd still answers,
        so a second command on the same connection kills it by its pid
        (SIGKILL ends a stopped process too; sshd's own signal request is
        refused for root logins). Best effort: the abort follows anyway, and
        an agent that was not killed exits once it runs again (its stdin ended)."""
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        conn = self.opened.conn
        try:
            if self.opened.pid > 0:
                await asyncio.wait_for(conn.run(f"kill -KILL {self.opened.pid}", check=False,
                                                stdin=asyncssh.DEVNULL), KILL_TIMEOUT_S)
        except (asyncio.TimeoutError, TimeoutError, asyncssh.Error, OSError):
            pass
        finally:
            conn.abort()

    async def _drain_stderr(self) -> None:
        try:
            while True:
                data = await self.opened.process.stderr.read(4096)
                if not data:
                    return
                self._stderr = (self._stderr + data)[-STDERR_KEEP:]
        except (asyncssh.Error, OSError, asyncio.CancelledError):
            return

    async def _why_ended(self) -> str:
        process = self.opened.process
        try:
            await asyncio.wait_for(process.wait_closed(), 2)
        except (asyncio.TimeoutError, TimeoutError, asyncssh.Error, OSError):
            pass
        if process.exit_signal:
            return f"the agent process on the computer was killed (signal {process.exit_signal[0]})"
        err = self._stderr.decode(errors="replace").strip()
        last = err.splitlines()[-1] if err else ""
        if process.exit_status not in (None, 0):
            return f"the agent on the computer stopped (exit status {process.exit_status})" + (
                f": {last}" if last else "")
        if process.exit_status is None:
            return "the connection dropped"
        return "the agent on the computer stopped" + (f": {last}" if last else "")

    # -- task thread side -------------------------------------------------------
    def get(self, cancel: threading.Event | None) -> tuple[bytes, bytes]:
        with self._cond:
            while not self._frames:
                if cancel is not None and cancel.is_set():
                    raise Cancelled
                if self._end is not None:
                    raise ConnectionLostError(self._lost())
                self._cond.wait(POLL_S)
            kind, data = self._frames.popleft()
            self._bytes -= len(data) + wire.HEADER.size
            room = self._started()
            wake = self._bytes <= HIGH_WATER // 2 and not room.is_set()
        if wake:
            loop.soon(room.set)
        return kind, data

    def ready(self) -> bool:
        """Whether a frame (or the end) is there to take without waiting."""
        with self._cond:
            return bool(self._frames) or self._end is not None

    def message(self, cancel: threading.Event | None) -> dict[str, Any]:
        kind, data = self.get(cancel)
        if kind not in (wire.JSON, wire.ZJSON):
            raise ConnectionLostError(f"The agent on {self.where} sent an unexpected frame.")
        return wire.decode(kind, data)

    def _lost(self) -> str:
        s = self.watchdog.silence_s
        if self._stalled == "heartbeat":
            return (f"The agent on {self.where} stopped answering: no heartbeat for {s:g} s "
                    "(its process is frozen, or the computer or the network is). The computer "
                    "was given up; the other computers go on.")
        if self._stalled == "progress":
            return (f"The agent on {self.where} made no progress for {s:g} s (a read that "
                    "hangs, e.g. on a stuck network mount). The computer was given up; the "
                    "other computers go on.")
        if self._silent:
            return (f"The computer {self.where} stopped answering (no reply to keep-alive for "
                    f"{self.opened.silence_s:g} s); check the network and that the computer "
                    "is running.")
        return f"The connection to {self.where} was lost: {self._end or 'it was closed'}."

    def send(self, data: bytes) -> None:
        if self._end is not None or self._closed:
            raise ConnectionLostError(self._lost())
        self.sent += len(data)
        loop.soon(self._write, data)

    def send_message(self, msg: dict[str, Any]) -> None:
        self.send(wire.message(msg))

    def _write(self, data: bytes) -> None:
        try:
            self.opened.process.stdin.write(data)
        except (asyncssh.Error, OSError, BrokenPipeError) as exc:
            with self._cond:
                if self._end is None:
                    self._end = f"{getattr(exc, 'reason', None) or exc}"
                self._cond.notify_all()

    def close(self) -> None:
        """Abort the connection now (never waits on the network)."""
        if self._closed:
            return
        self._closed = True
        loop.soon(self._abort)

    def _abort(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._killer is None:   # else it aborts once the agent is killed
            self.opened.conn.abort()
