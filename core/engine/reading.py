"""Reading a task's files into its writer.

Locally the server opens each file through the agent and cuts it here (FastCDC) into the
task's one read window; at an SSH computer's source the agent reads, cuts and hashes, and only
the blocks the repository lacks cross the network. Either way a file that changes while it is
read is read again (``READ_ATTEMPTS``), and the time spent reading, in the writer and waiting
on the job's read rate is counted on the task (its bottleneck figures).

:class:`FileReading` is the task's collaborator for all of this (one per task: it owns the
window and the source's byte counters).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from itertools import islice
from time import perf_counter
from typing import Any, Protocol

from blake3 import blake3

from core.agents.base import Agent, Cancelled, FsEntry, SourceFileError, SourceReader
from core.agents.ssh.agent_src.backup_agent.governor import Governor
from core.engine.context import TaskRun, log_size
from core.engine.hold import HoldGate
from core.engine.throttle import Throttle
from core.models import utcnow
from core.repository import BackupWriter, MissingParentData
from core.repository.chunker import Chunker
from core.repository.model import Entry, PartialFile

READ_ATTEMPTS = 3   # reads of a file that changes while it is read
# Ask the agent to start reading the next files this far ahead (small files only:
# the kernel reads large ones ahead by itself), so the disk works while the task
# hashes and hands off the current one; asked in batches of half of it, and only
# for a backup with at least PREFETCH_MIN_FILES of them (the agent may start a
# helper for it). A hint: no data enters the process.
PREFETCH_FILES = 64
PREFETCH_MAX_SIZE = 1 << 20
PREFETCH_MIN_FILES = 64


class Readable(Protocol):
    """An open file as the reading loop needs it (``readinto`` is used when it has one)."""

    def read(self, size: int, /) -> bytes: ...


class FileReading:
    """Reads one task's files: through ``open_file`` here, or at the source."""

    def __init__(self, task: TaskRun, throttle: Throttle, cancel: threading.Event,
                 hold: HoldGate | None = None,
                 on_hold: Callable[[], None] | None = None,
                 yield_threshold: int | None = None) -> None:
        """``hold``: the session's hold gate, checked at every block (``on_hold`` makes
        what was sent durable before the thread parks there)."""
        self.task = task
        self.throttle = throttle
        self.cancel = cancel
        self.hold = hold
        self.on_hold = on_hold
        # the throttle's waits end on a pause too (or on an immediate stop)
        self.interrupt = hold.interrupt if hold is not None else cancel
        # Yield to production: the job's pressure threshold (percent), or None. Locally the
        # governor runs here (this machine is the computer); at an SSH computer, its agent's.
        self.yield_threshold = yield_threshold
        self.governor: Governor | None = None
        self._remote_production = 0.0   # an SSH computer's held and slowed seconds, credited
        self._remote_noted = False
        self._owed_source = 0.0
        self.planned: set[str] = set()   # the files the source was asked to read
        self._source_counted = 0   # an SSH computer's bytes: chunks received,
        self._source_told = 0      # and what it said it read (see _credit_source)
        self._read_window: memoryview | None = None

    def start_governor(self) -> None:
        """Yield to production here (the local computer): a governor whose waits end at once
        on an immediate stop. Without PSI, the log says so once and reading is not governed."""
        if self.yield_threshold is None:
            return
        cancel, task = self.cancel, self.task

        def wait(seconds: float) -> bool:
            """Cancel-aware (an immediate stop ends it at once); counted live as Production."""
            t0 = perf_counter()
            try:
                return cancel.wait(seconds)
            finally:
                task.production_s += perf_counter() - t0
                if governor.worst is not None:
                    task.production_why = governor.why
        governor = Governor(self.yield_threshold, max_bps=self.throttle.rate, wait=wait)
        if not governor.available:
            self.task.note(no_pressure_note())
            return
        governor.on_hold = self._held_note
        self.governor = governor

    def _held_note(self, resource: str, percent: float) -> None:
        self.task.note(held_note(f"{resource} pressure {percent:.0f} % > "
                                 f"{self.yield_threshold} %"))

    def _govern(self, n: int) -> None:
        """A chunk boundary: the governor may slow or hold the reading here."""
        if self.governor is not None:
            self.governor.consume(n)   # its waits count as Production (start_governor)

    def credit_remote_governor(self, figures: dict[str, Any] | None) -> None:
        """An SSH computer's governor figures (held and slowed seconds, why): its waits were
        spent here waiting for data, so they move from Source to Production."""
        if not figures:
            return
        task = self.task
        total = float(figures.get("held_s", 0.0)) + float(figures.get("slowed_s", 0.0))
        gained = max(0.0, total - self._remote_production)
        self._remote_production += gained
        task.production_s += gained
        self._owed_source += gained   # counted as Source once the wait it was part of ends
        self._settle_source()
        if figures.get("why"):
            task.production_why = str(figures["why"])
            if not self._remote_noted:
                self._remote_noted = True
                task.note(held_note(task.production_why))

    def _settle_source(self) -> None:
        task = self.task
        take = min(self._owed_source, task.source_s)
        task.source_s -= take
        self._owed_source -= take

    def prefetcher(self, agent: Agent, entries: list[FsEntry], parent_entries: dict[str, Entry]
                   ) -> Callable[[int], None] | None:
        """A function ``ahead(i)`` that hints the agent, in batches, to read the
        small files among the next PREFETCH_FILES entries after ``entries[i]``
        that will be read (not the unchanged ones), or None: without agent
        support, under a throttle (whose rate caps reading from the source), or
        for a backup with few such files."""
        prefetch = agent.prefetch
        if not agent.prefetches or self.throttle.active:
            return None

        def wanted(e: FsEntry) -> bool:
            if e.kind != "file" or e.st.st_size > PREFETCH_MAX_SIZE or not e.st.st_size:
                return False
            previous = parent_entries.get(e.rel)
            return previous is None or not unchanged(previous, e.st)

        if sum(1 for _ in islice(filter(wanted, entries), PREFETCH_MIN_FILES)) \
                < PREFETCH_MIN_FILES:
            return None
        n = len(entries)
        nxt = 0

        def ahead(i: int) -> None:
            nonlocal nxt
            if nxt - i > PREFETCH_FILES // 2:
                return
            stop = min(n, i + 1 + PREFETCH_FILES)
            batch = [e.rel for e in entries[max(nxt, i + 1):stop] if wanted(e)]
            nxt = stop
            if batch:
                prefetch(batch)
        return ahead

    def read_file(self, writer: BackupWriter, agent: Agent, entry: FsEntry) -> None:
        """Store a file's content. A file that changes while it is read (size,
        mtime, ctime or inode differ before and after; "before" is the scan's
        stat for the first read, so a change since the scan counts) is read
        again; if it keeps changing, the last copy is kept and the computer
        ends with a warning naming the file."""
        task = self.task
        before = entry.st   # the scan's stat: the first read must match it
        for attempt in range(1, READ_ATTEMPTS + 1):
            t0 = perf_counter()
            try:
                f = agent.open_file(entry.rel)
            except OSError as exc:
                task.source_s += perf_counter() - t0
                task.note(f"Cannot read file '{entry.rel}': {exc.strerror}. The file was "
                          "skipped; check its permissions.", "warning")
                task.bytes_processed += entry.st.st_size
                return
            task.source_s += perf_counter() - t0
            with f:
                if attempt > 1:
                    before = os.fstat(f.fileno())
                size, chunker = before.st_size, writer.chunker
                blocks: Iterator[bytes | memoryview] = self._whole(f, size) \
                    if size <= chunker.min_size else self._blocks(f, chunker, size)
                added = writer.add_file(entry.rel, before, blocks)
                after = os.fstat(f.fileno())
            if _same_version(before, after):
                return
            if attempt < READ_ATTEMPTS:
                writer.retract(added)
                task.note(f"File '{entry.rel}' changed while it was read; reading it again")
        task.note(f"File '{entry.rel}' kept changing while it was read ({READ_ATTEMPTS} "
                  "attempts): the copy in this restore point may mix old and new content. "
                  "Back it up when it is not being written.", "warning")

    def continue_file(self, writer: BackupWriter, agent: Agent, entry: FsEntry,
                      partial: PartialFile) -> bool:
        """Store a file a paused backup had read part of before a restart: its blocks
        stored then (they are in the index) and the rest read from their end, a chunk
        boundary, so the file is cut exactly as if it had been read in one go. False
        (nothing added) when that cannot be done: the file changed since (size, times,
        inode), its stored blocks are gone, or the agent reads at the source; the caller
        then reads it whole."""
        old, st = partial.entry, entry.st
        if agent.reads_at_source or (old.size, old.mtime_ns, old.ctime_ns, old.inode) != \
                (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino):
            return False
        offset = partial.offset
        try:
            f = agent.open_file(entry.rel)
        except OSError:
            return False
        with f:
            try:
                os.lseek(f.fileno(), offset, os.SEEK_SET)
            except (OSError, AttributeError, ValueError):
                return False
            rest = self._blocks(f, writer.chunker, st.st_size - offset)

            def blocks() -> Iterator[tuple[str, int, bytes | None]]:
                for block_id, n in zip(old.blocks, partial.sizes):
                    yield block_id, n, None
                for block in rest:
                    data = bytes(block)   # a view of the window: kept past the next read
                    yield blake3(data).hexdigest(), len(data), data
            try:
                added = writer.add_file_known(entry.rel, st, blocks())
            except MissingParentData:
                return False
            after = os.fstat(f.fileno())
        if not _same_version(st, after):
            writer.retract(added)
            return False
        self.task.bytes_processed += offset
        self.task.note(f"Resuming file '{entry.rel}' at {log_size(offset)}: its first "
                       f"{len(partial.sizes)} block(s) were stored before the pause")
        return True

    # -- reading at the source (an SSH computer's agent cuts and hashes) ------
    def source_reader(self, agent: Agent, writer: BackupWriter, entries: list[FsEntry],
                      parent_entries: dict[str, Entry]) -> SourceReader | None:
        """For an agent that reads at the source: ask it to read, in order,
        every file that cannot reuse the parent's blocks (new, changed, or
        whose blocks the repository lost); None for the local agent."""
        if not agent.reads_at_source:
            return None
        files: list[tuple[str, int]] = []
        missing = writer.missing
        for e in entries:
            if e.kind != "file":
                continue
            previous = parent_entries.get(e.rel)
            if previous is not None and unchanged(previous, e.st) and \
                    not missing(list(previous.blocks)):
                continue
            files.append((e.rel, e.st.st_size))
        self._source_counted = self._source_told = 0
        self.planned = {rel for rel, _ in files}
        reader = agent.source_reader(files, writer.chunker, missing, rate=self.throttle.rate,
                                     on_progress=self._source_progress,
                                     yield_threshold=self.yield_threshold)
        reader.on_governor = self.credit_remote_governor
        return reader

    def _source_progress(self, read: int) -> None:
        """The computer says it has read ``read`` bytes (a paced read, whose
        chunks arrive later): shown at once, never counted twice."""
        self._credit_source(told=read)

    def _credit_source(self, counted: int = 0, told: int | None = None) -> None:
        """Bytes read at the source: the chunks received (``counted``) or what
        the computer said it read, whichever is further."""
        before = max(self._source_counted, self._source_told)
        self._source_counted += counted
        if told is not None:
            self._source_told = max(self._source_told, told)
        gained = max(self._source_counted, self._source_told) - before
        if gained > 0:
            self._count_read(gained)

    def finish_source(self, agent: Agent, reader: SourceReader) -> None:
        t0 = perf_counter()
        stats = reader.finish()
        self.task.source_s += perf_counter() - t0
        # the agent's waits on the read rate were spent here waiting for data
        paced = min(stats.get("paced_s", 0.0), self.task.source_s)
        self.task.source_s -= paced
        self.task.throttle_s += paced
        governor = stats.get("governor")
        self.credit_remote_governor(governor)
        if governor is not None and not governor.get("psi", True):
            self.task.note(no_pressure_note())
        self.task.note(f"Over SSH: {agent.wire_received:,} bytes received from the computer; "
                       f"it read {stats['opened']:,} file(s), {log_size(stats['read'])} in "
                       f"{stats.get('reading_s', 0.0):.1f} s (agent CPU "
                       f"{stats.get('cpu_s', 0.0):.1f} s); sent {agent.wire_sent:,} bytes to "
                       "the computer")

    def read_remote(self, writer: BackupWriter, reader: SourceReader, entry: FsEntry) -> None:
        """Store a file the agent reads at the source (the rules of
        ``read_file``: a file that changes while read is read again)."""
        task = self.task
        while True:
            t0 = perf_counter()
            rf = reader.next_file()
            task.source_s += perf_counter() - t0
            self._settle_source()
            if rf.error is not None:
                task.note(f"Cannot read file '{entry.rel}': {rf.error}. The file was "
                          "skipped; check its permissions.", "warning")
                task.bytes_processed += entry.st.st_size
                return
            try:
                if rf.raw:
                    added = writer.add_file(entry.rel, rf.st, self._blocks(rf, writer.chunker))
                else:
                    added = writer.add_file_known(entry.rel, rf.st, self._remote_blocks(rf))
            except SourceFileError as exc:
                task.note(f"Cannot read file '{entry.rel}': {exc.strerror}. The file was "
                          "skipped.", "warning")
                return
            end = rf.end
            if end.same:
                return
            if end.retry:
                writer.retract(added)
                task.note(f"File '{entry.rel}' changed while it was read; reading it again")
                continue
            task.note(f"File '{entry.rel}' kept changing while it was read ({READ_ATTEMPTS} "
                      "attempts): the copy in this restore point may mix old and new content. "
                      "Back it up when it is not being written.", "warning")
            return

    def _remote_blocks(self, rf: Any) -> Iterator[tuple[str, int, bytes | None]]:
        """A file's (id, size, data) as the agent cut and hashed them; data
        only for blocks the repository lacks. Waiting for the network counts
        as Source; the agent paces its reads to the job's rate (per computer)."""
        task, throttle, cancel = self.task, self.throttle, self.cancel
        interrupt, hold = self.interrupt, self._hold
        clock = perf_counter
        while True:
            hold()
            if cancel.is_set():
                raise Cancelled
            t0 = clock()
            group = rf.next_group()
            task.source_s += clock() - t0
            self._settle_source()
            if group is None:
                return
            self._credit_source(counted=group.size)
            t1 = clock()
            yield from group.items
            task.writer_s += clock() - t1
            if group.wire and rf.reader.rate is None:   # else paced where it is read
                t2 = clock()
                throttle.consume(group.wire, interrupt)
                task.throttle_s += clock() - t2

    def _whole(self, f: Readable, size: int) -> Iterator[bytes]:
        """A file of at most the chunker's minimum size, which is one block
        whatever its content: read in one call into a block of its own, so
        nothing is copied (the common case: most files are small). A file
        that grew or shrank meanwhile is caught by the caller's stat after."""
        task, throttle, cancel = self.task, self.throttle, self.cancel
        self._hold()
        if cancel.is_set():
            raise Cancelled
        t0 = perf_counter()
        data = f.read(size)
        task.source_s += perf_counter() - t0
        n = len(data)
        if not n:
            return
        self._count_read(n)
        t1 = perf_counter()
        yield data
        t2 = perf_counter()
        task.writer_s += t2 - t1
        throttle.consume(n, self.interrupt)
        task.throttle_s += perf_counter() - t2
        self._govern(n)

    def _count_read(self, n: int) -> None:
        task = self.task
        if task.reading_since is None:
            task.reading_since = utcnow()
        task.bytes_read += n
        task.bytes_processed += n

    def _blocks(self, f: Readable, chunker: Chunker, size: int | None = None
                ) -> Iterator[memoryview]:
        """The file's content cut by ``chunker`` (FastCDC): read ``read_size``
        at a time into the task's window, cut once ``max_size`` is buffered (or
        at the end). Blocks are views of the window, valid until the next one
        is asked for (the writer copies only the new ones); nothing is
        allocated per read. A short read that reaches the expected ``size``
        ends the file without a read that returns nothing (the caller compares
        the file's stat after reading, which catches a file that grew). Cancel
        is checked before every read and every chunk; the throttle is consumed
        per read and its wait is cancel-aware."""
        task, throttle, cancel = self.task, self.throttle, self.cancel
        interrupt, hold = self.interrupt, self._hold
        readinto, ends = _readinto_of(f), chunker.ends
        read_size, max_size = chunker.read_size, chunker.max_size
        window = self._window(max_size + read_size)
        clock = perf_counter
        gate = self.hold
        filled = 0   # read but not yet cut, at the front of the window
        total = 0
        while True:
            if filled and gate is not None and gate.pausing:
                # Pausing: hand over the complete chunks read so far, so that they are
                # stored before the hold (a resume after a restart reads only the rest).
                # A chunk's end depends only on the bytes from its start, so these are
                # the cuts an uninterrupted read makes; the last, open chunk stays.
                start = 0
                for end in ends(window[:filled], False):
                    t1 = clock()
                    yield window[start:end]
                    task.writer_s += clock() - t1
                    start = end
                if start:
                    window[:filled - start] = window[start:filled]
                    filled -= start
            hold()
            if cancel.is_set():
                raise Cancelled
            t0 = clock()
            n = readinto(window[filled:filled + read_size]) or 0
            t1 = clock()
            task.source_s += t1 - t0
            total += n
            last = not n or (n < read_size and total == size)
            if n:
                self._count_read(n)
                filled += n
            if not last and filled < max_size:
                cuts: list[int] = []
            elif filled:
                cuts = ends(window[:filled], last)
            else:
                return
            start = 0
            for end in cuts:
                if cancel.is_set():
                    raise Cancelled
                t1 = clock()
                yield window[start:end]
                task.writer_s += clock() - t1   # the writer hashed it (or waited on its pool)
                start = end
            if start:
                window[:filled - start] = window[start:filled]
                filled -= start
            if n:
                t2 = clock()
                throttle.consume(n, interrupt)
                task.throttle_s += clock() - t2
                self._govern(n)
            if last:
                return

    def _hold(self) -> None:
        """A block boundary: park here while the session is paused."""
        hold = self.hold
        if hold is not None:
            hold.check(self.on_hold)   # returns at once unless paused

    def _window(self, size: int) -> memoryview:
        """The task's read buffer, allocated once: reusing it keeps the
        backup's memory flat (fresh buffers per read cost page faults and
        leave freed megabytes in the allocator)."""
        window = self._read_window
        if window is None or len(window) < size:
            window = self._read_window = memoryview(bytearray(size))
        return window


def no_pressure_note() -> str:
    return ("Yield to production: this computer shows no pressure figures (Linux PSI, "
            "/proc/pressure): it is read at full speed.")


def held_note(why: str) -> str:
    return (f"Yielding to production: {why}; "
            "reading holds at a chunk boundary while it stays high, then ramps back up.")


def _readinto_of(f: Readable) -> Callable[[memoryview], int | None]:
    """``f.readinto``, or the same built on ``f.read`` (a file streamed by a
    remote agent)."""
    readinto: Callable[[memoryview], int | None] | None = getattr(f, "readinto", None)
    if readinto is not None:
        return readinto

    def read_into(view: memoryview) -> int:
        data = f.read(len(view))
        view[:len(data)] = data
        return len(data)
    return read_into


def _same_version(before: os.stat_result, after: os.stat_result) -> bool:
    return (before.st_size, before.st_mtime_ns, before.st_ctime_ns, before.st_ino) == \
        (after.st_size, after.st_mtime_ns, after.st_ctime_ns, after.st_ino)


def unchanged(previous: Entry, st: os.stat_result) -> bool:
    """Whether a file's scan stat says it is the parent point's ``previous`` unchanged."""
    return (previous.kind == "file" and previous.size == st.st_size
            and previous.mtime_ns == st.st_mtime_ns
            and getattr(previous, "ctime_ns", st.st_ctime_ns) == st.st_ctime_ns
            and getattr(previous, "inode", st.st_ino) == st.st_ino)
