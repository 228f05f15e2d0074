"""The server's side of a read session with the remote agent.

The agent reads the requested files in order. Natively it sends batches of
records (``B``: files' starts and ends, and chunk ids, spanning small files);
the reader answers which chunks the repository lacks (``need``: neither
stored, queued, nor already asked for in this session; several answers per
message) and the agent sends only those (``D``). Without the native modules
it sends the bytes (``R`` frames between ``F`` and ``E`` messages) and the
server cuts them.

The engine takes the records in order: ``next_file`` (the stat before
reading), then ``next_group`` (runs of chunks whose data has arrived) until
the file's end (the stat after; ``retry`` when the agent reads the file again
because it changed). Every frame is taken on the task thread, so only a few
batches are ever buffered."""
from __future__ import annotations

import collections
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.agents.ssh.agent_src.backup_agent import wire
from core.agents.ssh.agent_src.backup_agent.walk import stat_from
from core.agents.ssh.channel import AgentChannel
from core.agents.ssh.errors import ConnectionLostError, RemoteFileError

FILES_BATCH = 1000     # file names per request
FILES_AHEAD = 2000     # requested but not yet finished, at most
ANSWERS_BATCH = 8      # answers sent together (the agent waits only on a full window: 32)


@dataclass(slots=True)
class Group:
    """A run of one file's chunks: (id, size, data or None), and the bytes
    of data that crossed the network for them."""

    items: list[tuple[str, int, bytes | None]]
    wire: int = 0

    @property
    def size(self) -> int:
        return sum(n for _, n, _ in self.items)


@dataclass(slots=True)
class Batch:
    """A batch of the agent's records; a ``C`` record gains its data once the
    chunks the server asked for have arrived."""

    records: list[list[Any]]
    need: list[int]                  # indexes among the C records
    resolved: bool = False
    wire: dict[int, int] = field(default_factory=dict)   # record index -> bytes sent


@dataclass(slots=True)
class FileEnd:
    st: os.stat_result | None
    same: bool
    retry: bool


class RemoteReader:
    def __init__(self, channel: AgentChannel, root: str, files: list[tuple[str, int]],
                 chunker: Any, missing: Callable[[list[str]], list[str]],
                 cancel: threading.Event | None, raw: bool, rate: float | None = None,
                 on_progress: Callable[[int], None] | None = None,
                 yield_threshold: int | None = None,
                 on_governor: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.channel = channel
        self.on_governor = on_governor
        # Yield to production at the computer: its agent's governor, and its figures as
        # last told (``H`` messages: held and slowed seconds, why), None before any
        self.yield_threshold = yield_threshold
        self.governor: dict[str, Any] | None = None
        self.rate = rate          # bytes per second: the agent paces its reads to it
        # told the bytes the computer has read so far, while a paced read runs
        self.on_progress = on_progress
        self.root = root
        self.files = files
        self.planned = {rel for rel, _ in files}
        self.chunker = chunker
        self.missing = missing
        self.cancel = cancel
        self.raw = raw
        self._events: collections.deque[tuple[str, Any]] = collections.deque()
        self._batches: dict[int, Batch] = {}     # asked for data, not yet arrived
        self._requested: set[str] = set()
        self._answers: list[list[Any]] = []      # [batch, needed indexes] not yet sent
        self._batch: Batch | None = None    # the batch whose records are being taken
        self._pos = 0
        self._sent_files = 0
        self._finished_files = 0
        self.stats: dict[str, Any] = {}

    def start(self) -> None:
        c = self.chunker
        self.channel.send_message({
            "t": "read", "root": self.root, "mode": "raw" if self.raw else "cdc",
            "rate": self.rate, "yield": self.yield_threshold,
            "cdc": {"avg_size": c.avg_size, "min_size": c.min_size, "max_size": c.max_size,
                    "read_size": c.read_size}})
        self._feed()

    def _feed(self) -> None:
        while self._sent_files < len(self.files) and \
                self._sent_files - self._finished_files < FILES_AHEAD:
            batch = self.files[self._sent_files:self._sent_files + FILES_BATCH]
            self._sent_files += len(batch)
            self.channel.send_message({"t": "files", "files": batch})

    # -- frames -> events ----------------------------------------------------
    def _pump(self) -> None:
        if self._answers and not self.channel.ready():
            self._send_answers()   # about to wait: the agent may be waiting for these
        kind, data = self.channel.get(self.cancel)
        if kind == wire.DATA:
            self._resolve(data)
            return
        if kind == wire.RAW:
            self._events.append(("R", data))
            return
        msg = wire.decode(kind, data)
        t = msg["t"]
        if t == "B":
            self._answer(msg["g"], msg["r"])
        elif t == "P":
            if self.on_progress is not None:
                self.on_progress(int(msg["read"]))
        elif t == "H":
            self.governor = msg
            if self.on_governor is not None:
                self.on_governor(msg)
        elif t in ("F", "E", "stats"):
            self._events.append((t, msg))
        else:
            raise ConnectionLostError(f"The agent on {self.channel.where} failed: "
                                      f"{msg.get('text', msg)}")

    def _resolve(self, data: bytes) -> None:
        (g,) = wire.GROUP.unpack_from(data)
        batch = self._batches.pop(g, None)
        if batch is None:
            raise ConnectionLostError(f"The agent on {self.channel.where} sent data that "
                                      "was not asked for.")
        view = memoryview(data)
        pos = wire.GROUP.size
        need = set(batch.need)
        c_index = 0
        for i, rec in enumerate(batch.records):
            if rec[0] != "C":
                continue
            if c_index in need:
                n = rec[2]
                rec.append(bytes(view[pos:pos + n]))
                batch.wire[i] = n
                pos += n
            c_index += 1
        if pos != len(data):
            raise ConnectionLostError(f"The agent on {self.channel.where} sent a data frame "
                                      "of the wrong size.")
        batch.resolved = True

    def _answer(self, g: int, records: list[list[Any]]) -> None:
        ids = [rec[1] for rec in records if rec[0] == "C"]
        lacking = set(self.missing(ids)) if ids else set()
        need = []
        requested = self._requested
        for i, h in enumerate(ids):
            if h in lacking and h not in requested:
                requested.add(h)
                need.append(i)
        self._answers.append([g, need])
        if len(self._answers) >= ANSWERS_BATCH:
            self._send_answers()
        batch = Batch(records, need)
        if need:
            self._batches[g] = batch
        else:
            batch.resolved = True
        self._events.append(("B", batch))

    def _send_answers(self) -> None:
        """One message for several answers: every message the server sends
        costs a packet, and asyncssh's per-packet cost is high."""
        self.channel.send_message({"t": "need", "a": self._answers})
        self._answers = []

    def _next(self) -> tuple[str, Any]:
        """The next event, waiting for a batch's data when it is next."""
        while True:
            if self._events:
                head = self._events[0]
                if head[0] != "B" or head[1].resolved:
                    return self._events.popleft()
            self._pump()

    def _record(self, peek: bool = False) -> list[Any]:
        """The next record of the native stream (resolved batches, in order)."""
        while self._batch is None or self._pos >= len(self._batch.records):
            t, ev = self._next()
            if t != "B":
                raise ConnectionLostError(f"The agent on {self.channel.where} is out of step "
                                          f"(expected a batch, got {t!r}).")
            self._batch, self._pos = ev, 0
        rec = self._batch.records[self._pos]
        if not peek:
            self._pos += 1
        return rec

    def _chunk_run(self) -> Group | None:
        """The consecutive chunk records at the current position (within one
        batch), or None when the next record is not a chunk."""
        if self._record(peek=True)[0] != "C":
            return None
        batch = self._batch
        assert batch is not None
        records = batch.records
        items = []
        wire_bytes = 0
        i = self._pos
        while i < len(records) and records[i][0] == "C":
            rec = records[i]
            items.append((rec[1], rec[2], rec[3] if len(rec) > 3 else None))
            wire_bytes += batch.wire.get(i, 0)
            i += 1
        self._pos = i
        return Group(items, wire_bytes)

    # -- the engine's side ------------------------------------------------------
    def next_file(self) -> RemoteFile:
        if self.raw:
            t, msg = self._next()
            if t != "F":
                raise ConnectionLostError(f"The agent on {self.channel.where} is out of step "
                                          f"(expected a file, got {t!r}).")
            if "err" in msg:
                self._file_done()
                return RemoteFile(self, None, msg["err"])
            return RemoteFile(self, stat_from(msg["st"]), None)
        rec = self._record()
        if rec[0] == "X":
            self._file_done()
            return RemoteFile(self, None, rec[1])
        if rec[0] != "F":
            raise ConnectionLostError(f"The agent on {self.channel.where} is out of step "
                                      f"(expected a file, got {rec[0]!r}).")
        return RemoteFile(self, stat_from(rec[1]), None)

    def _file_done(self) -> None:
        self._finished_files += 1
        self._feed()

    def finish(self) -> dict[str, Any]:
        """End the session (every requested file has been taken); the agent's
        counters: files opened, bytes read, CPU seconds on the computer, the
        seconds it spent reading and, of those, waiting on the read rate."""
        if self._answers:
            self._send_answers()
        self.channel.send_message({"t": "done"})
        while True:
            t, msg = self._next()
            if t == "stats":
                self.stats = {"opened": int(msg["opened"]), "read": int(msg["read"]),
                              "cpu_s": float(msg.get("cpu", 0.0)),
                              "reading_s": float(msg.get("reading_s", 0.0)),
                              "paced_s": float(msg.get("paced_s", 0.0)),
                              "governor": msg.get("governor")}
                return self.stats


class RemoteFile:
    """One attempt at reading one file. Natively, ``next_group()`` until
    None; raw, ``read()`` until b"". Then ``end``."""

    def __init__(self, reader: RemoteReader, st: os.stat_result | None, error: str | None
                 ) -> None:
        self.reader = reader
        self.st = st
        self.error = error
        self.end: FileEnd | None = None
        self.raw = reader.raw

    def _ended(self, err: str | None, st: list[Any] | None = None, same: bool = True,
               retry: bool = False) -> None:
        if err is not None:
            self.reader._file_done()
            raise RemoteFileError(err)
        self.end = FileEnd(stat_from(st) if st is not None else None, same, retry)
        if not retry:
            self.reader._file_done()

    def next_group(self) -> Group | None:
        if self.end is not None:
            return None
        reader = self.reader
        group = reader._chunk_run()
        if group is not None:
            return group
        rec = reader._record()
        if rec[0] == "E":
            self._ended(None, rec[1], bool(rec[2]), bool(rec[3]))
            return None
        if rec[0] == "Y":
            self._ended(rec[1])
        raise ConnectionLostError(f"The agent on {reader.channel.where} is out of step "
                                  f"(got {rec[0]!r} inside a file).")

    def read(self, n: int = -1) -> bytes:
        if self.end is not None:
            return b""
        t, ev = self.reader._next()
        if t == "R":
            data: bytes = ev
            return data
        if t == "E":
            if "err" in ev:
                self._ended(ev["err"])
            self._ended(None, ev["st"], bool(ev["same"]), bool(ev["retry"]))
            return b""
        raise ConnectionLostError(f"The agent on {self.reader.channel.where} is out of step "
                                  f"(got {t!r} inside a file).")
