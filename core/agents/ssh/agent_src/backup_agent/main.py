"""The remote agent's loop: answers the server's requests on stdin/stdout.

Requests (frames, see wire.py): ``native`` (load the native modules from
this computer's cache, by their hash), the native modules themselves (``N``,
when the cache lacks them), ``check``, ``scan``, ``read`` (then ``files``,
``need`` and ``done``), ``stats`` and ``heartbeat`` (start sending
heartbeats this often: the server gives up an agent that stops sending them,
or whose work stops moving on). When stdin closes (the
server stopped the job immediately, or the connection dropped) the agent
removes its private folder and exits at once, even in the middle of a read."""
from __future__ import annotations

import collections
import hashlib
import io
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import warnings
import zipfile
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from . import wire
from .governor import Governor
from .walk import Walker, stat_fields

READ_ATTEMPTS = 3          # the engine's rule for a file that changes while it is read
GROUP_BYTES = 1 << 20      # a group of chunks whose ids are sent together
GROUP_CHUNKS = 64
WINDOW_GROUPS = 32         # groups whose data waits for the server's answer
WINDOW_BYTES = 32 << 20
FLUSH_GROUPS = 8           # half the window: the server answers before the agent waits
FLUSH_BYTES = 4 << 20
ENTRY_BATCH = 2000         # scan entries per frame
PREFETCH_FILES = 32
PREFETCH_MAX_SIZE = 1 << 20
PACE_BURST_S = 0.05         # reads may run this far ahead of the job's rate
PROGRESS_S = 0.5            # a paced read says how far it got this often (``P``)
CACHE_NAME = "agent-backup"  # under $XDG_CACHE_HOME (or ~/.cache): the native modules
CACHE_KEEP = 3               # the native modules of this many server versions are kept


class Agent:
    def __init__(self, workdir: str, pyz: str) -> None:
        self.workdir = workdir
        self.pyz = pyz
        self.out = sys.stdout.buffer
        self.inbox: "queue.Queue[Optional[Tuple[bytes, bytes]]]" = queue.Queue()
        self.opened = 0
        self.read_bytes = 0
        self.blake3: Optional[Callable[[bytes], Any]] = None
        self.fastcdc: Any = None
        # Told in each heartbeat: the work moves this counter on (frames
        # sent, bytes read, entries found, requests taken); ``waiting`` while
        # it waits for the server's next request or answer.
        self.progress = 0
        self.waiting = False
        self.beating = False

    # -- plumbing ------------------------------------------------------------
    def send(self, data: bytes, flush: bool = True) -> None:
        """Frames the server waits for are flushed; the others (a file's
        start and end) go with the next flush, to send fewer packets."""
        self.out.write(data)
        self.progress += 1
        if flush:
            self.out.flush()

    def reply(self, msg: Dict[str, Any], flush: bool = True) -> None:
        self.send(wire.message(msg), flush)

    def read_stdin(self) -> None:
        """The reader thread: frames into the inbox; on EOF, exit the process."""
        inp = sys.stdin.buffer
        try:
            while True:
                raw = inp.read(wire.HEADER.size)
                if len(raw) < wire.HEADER.size:
                    break
                kind, n = wire.header(raw)
                payload = inp.read(n)
                if len(payload) < n:
                    break
                self.inbox.put((kind, payload))
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)
            os._exit(0)

    def take(self, block: bool = True) -> Optional[Tuple[bytes, bytes]]:
        """The next frame from the server (None: none there, not blocking)."""
        self.waiting = block
        try:
            item = self.inbox.get(block)
        except queue.Empty:
            return None
        finally:
            self.waiting = False
        self.progress += 1
        return item

    def next_message(self, block: bool = True) -> Optional[Dict[str, Any]]:
        if block and self.inbox.empty():
            self.out.flush()   # never wait with frames the server needs still buffered
        item = self.take(block)
        if item is None:
            return None
        return wire.decode(*item)

    def start_heartbeat(self, every: float) -> None:
        """Heartbeats from a thread of their own: they go on while the work
        blocks (the server then sees the counter stay), and stop only when
        the whole process does (SIGSTOP), or the connection ends."""
        if self.beating:
            return
        self.beating = True
        every = max(0.05, float(every))

        def beat() -> None:
            try:
                while True:
                    time.sleep(every)
                    self.out.write(wire.frame(wire.HEARTBEAT, wire.BEAT.pack(
                        self.progress & 0xFFFFFFFFFFFFFFFF, 1 if self.waiting else 0)))
                    self.out.flush()
            except (OSError, ValueError):   # the server went: read_stdin ends the process
                return

        threading.Thread(target=beat, name="heartbeat", daemon=True).start()

    # -- native accelerators ----------------------------------------------------
    def load_native(self, data: bytes) -> Dict[str, Any]:
        """blake3 and pyfastcdc's compiled modules, sent by the server (which
        saw this Python's ABI tag and machine match its own): extension
        modules cannot be imported from a zip, so they are extracted into the
        private folder first."""
        folder = os.path.join(self.workdir, "native")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                z.extractall(folder)
        except (OSError, zipfile.BadZipFile) as exc:
            return {"t": "native", "ok": False, "problem": f"cannot unpack them here ({exc})"}
        sys.path.insert(0, folder)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from blake3 import blake3  # type: ignore
                from pyfastcdc import FastCDC  # type: ignore
        except Exception as exc:  # an older C library, a missing symbol, ...
            return {"t": "native", "ok": False,
                    "problem": f"the native modules do not load here ({exc})"}
        if not FastCDC.__module__.startswith("pyfastcdc.cy"):
            return {"t": "native", "ok": False,
                    "problem": "pyfastcdc's compiled module does not load here"}
        self.blake3, self.fastcdc = blake3, FastCDC
        return {"t": "native", "ok": True}

    def cached_native(self, sha256: str) -> Dict[str, Any]:
        """The native modules from this computer's cache, if there and
        intact; else ``missing`` (the server sends them)."""
        path = os.path.join(cache_dir(), sha256 + ".zip")
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return {"t": "native", "missing": True}
        if hashlib.sha256(data).hexdigest() != sha256:
            return {"t": "native", "missing": True}
        try:
            os.utime(path)   # recently used: kept by store_native's pruning
        except OSError:
            pass
        return dict(self.load_native(data), cached=True)

    def received_native(self, data: bytes) -> Dict[str, Any]:
        reply = self.load_native(data)
        if reply["ok"]:
            store_native(data)
        return reply

    # -- requests -----------------------------------------------------------
    def run(self) -> None:
        threading.Thread(target=self.read_stdin, daemon=True).start()
        while True:
            self.out.flush()
            kind, payload = self.take()  # type: ignore[misc]
            if kind == wire.NATIVE:
                self.reply(self.received_native(payload))
                continue
            msg = wire.decode(kind, payload)
            t = msg["t"]
            if t == "native":
                self.reply(self.cached_native(str(msg["sha256"])))
            elif t == "check":
                self.reply(self.check(msg["root"]))
            elif t == "scan":
                self.scan(msg)
            elif t == "read":
                self.read_session(msg)
            elif t == "stats":
                self.reply({"t": "stats", "opened": self.opened, "read": self.read_bytes})
            elif t == "heartbeat":
                self.start_heartbeat(msg["every"])
            else:
                self.reply({"t": "err", "text": f"unknown request {t!r}"})

    def check(self, root: str) -> Dict[str, Any]:
        try:
            st = os.stat(root)
        except FileNotFoundError:
            return {"t": "err", "kind": "missing", "text": "does not exist"}
        except OSError as exc:
            return {"t": "err", "kind": "unreadable", "text": f"cannot be used: {exc.strerror}"}
        import stat as statmod
        if not statmod.S_ISDIR(st.st_mode):
            return {"t": "err", "kind": "notdir", "text": "is not a folder"}
        try:
            with os.scandir(root) as it:
                next(it, None)
        except OSError as exc:
            return {"t": "err", "kind": "unreadable", "text": f"cannot be read: {exc.strerror}"}
        return {"t": "ok", "python": "%d.%d.%d" % sys.version_info[:3]}

    def scan(self, msg: Dict[str, Any]) -> None:
        problem = self.check(msg["root"])
        if problem["t"] != "ok":
            self.reply(problem)
            return
        batch: List[list] = []

        def emit(rel: str, kind: str, st: os.stat_result, target: Optional[str]) -> None:
            self.progress += 1
            batch.append([rel, kind, stat_fields(st), target])
            if len(batch) >= ENTRY_BATCH:
                self.send(wire.zmessage({"t": "entries", "e": batch}))
                batch.clear()

        walker = Walker(msg["root"], emit)
        walker.scan(msg.get("include") or (), msg.get("exclude") or ())
        if batch:
            self.send(wire.zmessage({"t": "entries", "e": batch}))
        self.send(wire.zmessage({"t": "scanned", "warnings": walker.warnings,
                                 "notes": walker.notes, "skipped": walker.skipped_special}))

    # -- reading files ---------------------------------------------------------
    def read_session(self, msg: Dict[str, Any]) -> None:
        Reader(self, msg).run()


class Pace:
    """A token bucket for the job's read rate, applied where the files are
    read (bytes per second)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.next_free = time.monotonic()
        self.waited = 0.0

    def delay(self, n: int) -> float:
        """Account for ``n`` bytes read; how long to wait before reading on."""
        now = time.monotonic()
        self.next_free = max(now, self.next_free) + n / self.rate
        return self.next_free - now - PACE_BURST_S


class Reader:
    """One read session: the files the server asks for, in its order.

    With the native modules each file is cut (FastCDC, the server's sizes)
    and hashed (blake3) here. Records go to the server in batches (``B``):
    ``F`` a file's start (its stat), ``X`` a file that cannot be opened,
    ``C`` a chunk (id, size), ``Y`` a read error, ``E`` a file's end (the
    stat after; ``retry`` when it changed and is read again). A batch spans
    files, so small files cost little; the server answers which of its
    chunks it lacks, and only those are sent (``D``). Without the native
    modules the file's bytes are sent whole (``R`` frames, between ``F``
    and ``E`` messages) and the server cuts them. With a ``rate`` (bytes per
    second), the reads themselves are paced to it."""

    def __init__(self, agent: Agent, msg: Dict[str, Any]) -> None:
        self.agent = agent
        self.root = msg["root"]
        self.raw = msg.get("mode") != "cdc" or agent.blake3 is None
        cdc = msg.get("cdc") or {}
        self.read_size = int(cdc.get("read_size", 1 << 20))
        self.max_size = int(cdc.get("max_size", 4 << 20))
        if not self.raw:
            self.cdc = agent.fastcdc(avg_size=int(cdc["avg_size"]), min_size=int(cdc["min_size"]),
                                     max_size=self.max_size, normalized_chunking=1)
        self.files: Deque[Tuple[str, int]] = collections.deque()
        self.pending: Dict[int, List[bytes]] = {}   # batch -> chunks awaiting the answer
        self.pending_bytes = 0
        self.next_batch = 0
        self.records: List[list] = []      # the batch being filled
        self.chunks: List[bytes] = []      # its chunks' data, in order
        self.batch_bytes = 0
        self.unflushed = 0                 # batches sent since the last flush
        self.unflushed_bytes = 0
        self.done = False
        self.prefetched = 0
        self.started = time.monotonic()
        self.last_read = self.started
        rate = msg.get("rate")
        self.pace = Pace(float(rate)) if rate else None
        # Yield to production: a governor on this computer's own pressure (PSI)
        self.governor: Optional[Governor] = None
        self.told_held = 0.0
        threshold = msg.get("yield")
        if threshold:
            self.governor = Governor(int(threshold), float(rate) if rate else None,
                                     wait=self.wait_held)
            self.governor.on_hold = self.on_hold

    def run(self) -> None:
        while not self.done:
            if not self.files:
                self.close_batch()   # about to wait: the server needs these records
                self.handle(self.agent.next_message())
                continue
            rel, _ = self.files.popleft()
            self.prefetched = max(0, self.prefetched - 1)
            self.prefetch()
            self.read_file(rel)
            self.drain()
        # the server asked for every answer it needed before "done"

    def handle(self, msg: Optional[Dict[str, Any]]) -> None:
        if msg is None:
            return
        t = msg["t"]
        if t == "files":
            self.files.extend((rel, size) for rel, size in msg["files"])
        elif t == "need":   # answers for batches, in order: which chunks to send
            for g, wanted in msg["a"]:
                chunks = self.pending.pop(g)
                self.pending_bytes -= sum(len(c) for c in chunks)
                if wanted:
                    self.agent.send(wire.frame(wire.DATA, wire.GROUP.pack(g) + b"".join(
                        chunks[i] for i in wanted)), flush=False)
            self.agent.out.flush()
        elif t == "done":
            self.done = True
            self.agent.reply({"t": "stats", "opened": self.agent.opened,
                              "read": self.agent.read_bytes,
                              "cpu": round(time.process_time(), 3),
                              "reading_s": round(self.last_read - self.started, 3),
                              "paced_s": round(self.pace.waited if self.pace else 0.0, 3),
                              "governor": self.governor.figures() if self.governor else None})

    def drain(self) -> None:
        while True:
            msg = self.agent.next_message(block=False)
            if msg is None:
                return
            self.handle(msg)

    def prefetch(self) -> None:
        """Ask the kernel to read the next small files ahead (a hint)."""
        if not hasattr(os, "posix_fadvise"):
            return
        for rel, size in list(self.files)[self.prefetched:PREFETCH_FILES]:
            self.prefetched += 1
            if not size or size > PREFETCH_MAX_SIZE:
                continue
            try:
                fd = os.open(os.path.join(self.root, rel), os.O_RDONLY | os.O_NONBLOCK |
                             getattr(os, "O_NOFOLLOW", 0))
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
            except OSError:
                pass
            finally:
                os.close(fd)

    # -- records -----------------------------------------------------------------
    def record(self, rec: list) -> None:
        """A file's start or end: a message of its own (raw) or a batch record."""
        if self.raw:
            kind = rec[0]
            if kind == "F":
                msg = {"t": "F", "st": rec[1]}
            elif kind == "X":
                msg = {"t": "F", "err": rec[1]}
            elif kind == "Y":
                msg = {"t": "E", "err": rec[1]}
            else:
                msg = {"t": "E", "st": rec[1], "same": rec[2], "retry": rec[3]}
            self.agent.reply(msg, flush=False)
        else:
            self.records.append(rec)

    def add_chunk(self, chunk: bytes) -> None:
        self.records.append(["C", self.agent.blake3(chunk).hexdigest(), len(chunk)])
        self.chunks.append(chunk)
        self.batch_bytes += len(chunk)
        if self.batch_bytes >= GROUP_BYTES or len(self.chunks) >= GROUP_CHUNKS:
            self.close_batch()

    def close_batch(self) -> None:
        if not self.records:
            return
        g = self.next_batch
        self.next_batch += 1
        self.pending[g] = self.chunks
        self.pending_bytes += self.batch_bytes
        self.unflushed += 1
        self.unflushed_bytes += self.batch_bytes
        # Flushed every few batches (each flush is a packet); waiting for
        # answers always flushes first (next_message).
        flush = self.unflushed >= FLUSH_GROUPS or self.unflushed_bytes >= FLUSH_BYTES
        self.agent.reply({"t": "B", "g": g, "r": self.records}, flush=flush)
        if flush:
            self.unflushed = self.unflushed_bytes = 0
        self.records, self.chunks, self.batch_bytes = [], [], 0
        self.drain()
        while len(self.pending) >= WINDOW_GROUPS or self.pending_bytes >= WINDOW_BYTES:
            self.handle(self.agent.next_message())

    # -- reading -----------------------------------------------------------------
    def read_file(self, rel: str) -> None:
        agent = self.agent
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                f = open(os.path.join(self.root, rel), "rb", buffering=0)
            except OSError as exc:
                self.record(["X", exc.strerror or str(exc)])
                return
            agent.opened += 1
            with f:
                before = os.fstat(f.fileno())
                self.record(["F", stat_fields(before)])
                try:
                    if self.raw:
                        self.send_raw(f)
                    else:
                        self.send_chunks(f)
                except OSError as exc:
                    self.record(["Y", exc.strerror or str(exc)])
                    return
                after = os.fstat(f.fileno())
            same = (before.st_size, before.st_mtime_ns, before.st_ctime_ns) == \
                (after.st_size, after.st_mtime_ns, after.st_ctime_ns)
            retry = not same and attempt < READ_ATTEMPTS
            self.record(["E", stat_fields(after), same, retry])
            if not retry:
                return

    def count(self, n: int) -> None:
        """``n`` bytes read: wait as the job's rate says (what was sent goes
        first: the server is not kept waiting for it meanwhile)."""
        self.agent.read_bytes += n
        self.agent.progress += 1
        if self.pace is not None:
            delay = self.pace.delay(n)
            if delay > 0:
                self.agent.out.flush()
                self.wait_paced(delay)
                self.pace.waited += delay
        governor = self.governor
        if governor is not None:
            governor.consume(n)
            if governor.held_now + governor.slowed_s - self.told_held >= PROGRESS_S:
                self.tell_governor()
        self.last_read = time.monotonic()

    def tell_governor(self) -> None:
        """The governor's figures so far (``H``): the server shows them live."""
        assert self.governor is not None
        figures = self.governor.figures()
        self.told_held = self.governor.held_now + self.governor.slowed_s
        self.agent.reply(dict(figures, t="H"))

    def on_hold(self, resource: str, percent: float) -> None:
        self.tell_governor()

    def wait_held(self, delay: float) -> bool:
        """The governor's wait (held, or on a lowered rate): what was sent goes first, and
        the heartbeat sees work go on. An immediate stop closes stdin, which ends the
        process at once, so this never needs to return early."""
        self.agent.out.flush()
        end = time.monotonic() + delay
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, PROGRESS_S))
            self.agent.progress += 1
            governor = self.governor
            if governor is not None and \
                    governor.held_now + governor.slowed_s - self.told_held >= PROGRESS_S:
                self.tell_governor()   # live: the server shows how long it has held

    def wait_paced(self, delay: float) -> None:
        """Sleep ``delay`` seconds in steps; after each, a cut read tells the
        server how far it got at the job's rate (its chunks go out only once
        a cut is found, which needs what follows; raw data goes out as read)."""
        assert self.pace is not None
        end = time.monotonic() + delay
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, PROGRESS_S))
            self.agent.progress += 1   # waiting on the job's rate is work too
            if not self.raw:
                ahead = max(0.0, end - time.monotonic()) * self.pace.rate
                self.agent.reply({"t": "P", "read": int(self.agent.read_bytes - ahead)})

    def send_raw(self, f) -> None:
        agent, read, size = self.agent, f.read, self.read_size
        while True:
            buf = read(size)
            if not buf:
                return
            agent.send(wire.frame(wire.RAW, buf), flush=False)
            self.count(len(buf))
            self.drain()

    def send_chunks(self, f) -> None:
        """The file cut as the server's Chunker would: read ``read_size`` at a
        time, cut once ``max_size`` is buffered (or at the end)."""
        read = f.read
        read_size, max_size = self.read_size, self.max_size
        pending: List[bytes] = []
        buffered = 0
        while True:
            buf = read(read_size)
            n = len(buf)
            if n:
                self.count(n)
                pending.append(buf)
                buffered += n
                if buffered < max_size:
                    continue
            if not pending:
                return
            data = pending[0] if len(pending) == 1 else b"".join(pending)
            chunks, rest = self.cut(data, not n)
            pending, buffered = ([rest], len(rest)) if rest else ([], 0)
            for chunk in chunks:
                self.add_chunk(chunk)
            if not n:
                return

    def cut(self, data: bytes, final: bool) -> Tuple[List[bytes], bytes]:
        chunks: List[bytes] = []
        start, n = 0, len(data)
        for c in self.cdc.cut_buf(data):
            end = c.offset + c.length
            if end == n and not final:
                break
            chunks.append(data[start:end])
            start = end
        return chunks, data[start:] if start < n else b""


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, CACHE_NAME)


def store_native(data: bytes) -> None:
    """Keep the native modules for the next sessions (a private folder, a
    file written whole then renamed); without a cache the server sends them
    each time, so any failure here is ignored."""
    folder = cache_dir()
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".native-", suffix=".tmp", dir=folder)  # mode 0600
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(folder, hashlib.sha256(data).hexdigest() + ".zip"))
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return
    prune_cache(folder)


def prune_cache(folder: str) -> None:
    """Keep the CACHE_KEEP most recently used versions of the modules."""
    try:
        found = [(os.stat(p).st_mtime, p) for p in
                 (os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".zip"))]
    except OSError:
        return
    for _, path in sorted(found, reverse=True)[CACHE_KEEP:]:
        try:
            os.unlink(path)
        except OSError:
            pass


def remove_stale(workdir: str) -> None:
    """Mark this agent's private folder with its pid, and remove the folders
    of agents that were killed before they could remove their own."""
    with open(os.path.join(workdir, "pid"), "w") as f:
        f.write(str(os.getpid()))
    parent, mine = os.path.split(workdir)
    try:
        names = [n for n in os.listdir(parent) if n.startswith("backup-agent-") and n != mine]
    except OSError:
        return
    for name in names:
        folder = os.path.join(parent, name)
        try:
            if os.lstat(folder).st_uid != os.getuid():
                continue
            with open(os.path.join(folder, "pid")) as f:
                pid = int(f.read().strip() or 0)
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):
            continue


def main(workdir: str, pyz: str) -> None:
    remove_stale(workdir)
    real_stdout = sys.stdout
    sys.stdout = sys.stderr   # a stray print must never corrupt the frames
    try:
        agent = Agent(workdir, pyz)
        agent.out = io.BufferedWriter(io.FileIO(real_stdout.fileno(), "w", closefd=False),
                                      256 << 10)
        agent.run()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
