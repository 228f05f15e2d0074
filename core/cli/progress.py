"""The progress of ``start --wait``: a live line on a terminal (rich), plain
lines when the output is a file or a pipe, nothing with ``--json``.

Figures come from the session as the server reports it: computers done, the
session's percent, the rate since its first block was read, and the time left,
estimated from the share done so far; neither is shown before a second of
reading (a guess would mislead). rich is imported only when a live line is drawn, so the other
commands do not pay for it.
"""
from __future__ import annotations

import sys
from datetime import datetime
from typing import IO, Any, Protocol

from core.api import size_text
from core.models import SessionInfo, SessionResult, TaskInfo, utcnow

POLL_S = 1.0            # how often the session is asked for (a long poll: an end answers at once)
MIN_READING_S = 1.0     # below this a rate, and a time left, are noise
PLAIN_STEP = 10         # plain lines: one per computer done and per 10 %


def _fraction(task: TaskInfo) -> float:
    if task.status.is_final:
        return 1.0
    if task.bytes_total:
        return min(1.0, task.bytes_processed / task.bytes_total)
    if task.files_total:
        return min(1.0, task.files_done / task.files_total)
    return 0.0


def _reading_s(session: SessionInfo, now: datetime) -> float | None:
    """Seconds since the session's first block was read (the scan says nothing of
    the rate); None before, or while that is under a second (noise)."""
    reading = [t.reading_since for t in session.tasks if t.reading_since is not None]
    if not reading:
        return None
    elapsed = ((session.ended or now) - min(reading)).total_seconds()
    return elapsed if elapsed >= MIN_READING_S else None


def rate_bps(session: SessionInfo, now: datetime | None = None) -> float | None:
    """Bytes processed per second of reading; None until there is a rate to trust."""
    elapsed = _reading_s(session, now or utcnow())
    processed = sum(t.bytes_processed for t in session.tasks)
    return processed / elapsed if elapsed is not None and processed > 0 else None


def eta_seconds(session: SessionInfo, now: datetime | None = None) -> float | None:
    """Seconds the session still needs, from the share of it done since its first
    block was read; None until there is a rate (never a guess)."""
    tasks = session.tasks
    if not tasks or not session.state.is_active:
        return None
    done = sum(_fraction(t) for t in tasks) / len(tasks)
    elapsed = _reading_s(session, now or utcnow())
    if done <= 0 or elapsed is None:
        return None
    return max(0.0, elapsed * (1 - done) / done)


def clock_text(seconds: float) -> str:
    total = int(round(seconds))
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def figures(session: SessionInfo) -> tuple[str, str, str, str]:
    """Computers done, percent, rate and time left, in words:
    ("2/3 computers done", "67 %", "12.5 MB/s", "about 0:00:40 left")."""
    done = sum(1 for t in session.tasks if t.status.is_final)
    now = utcnow()
    rate = rate_bps(session, now)
    eta = eta_seconds(session, now)
    left = "" if not session.state.is_active else \
        f"about {clock_text(eta)} left" if eta is not None else "time left: estimating…"
    return (f"{done}/{len(session.tasks)} computers done", f"{session.progress} %",
            f"{size_text(rate)}/s" if rate else "rate: measuring…", left)


def progress_text(session: SessionInfo) -> str:
    """ "2/3 computers done, 67 %, 12.5 MB/s, about 0:00:40 left" """
    return ", ".join(part for part in figures(session) if part)


class Progress(Protocol):
    def show(self, session: SessionInfo) -> None: ...
    def close(self) -> None: ...


class NoProgress:
    """``--json``: the answer is the session's JSON, nothing else."""

    def show(self, session: SessionInfo) -> None:
        pass

    def close(self) -> None:
        pass


class PlainProgress:
    """A line per computer done and per 10 %, for logs and pipes."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._last: tuple[int, int] | None = None

    def show(self, session: SessionInfo) -> None:
        if not session.state.is_active:
            return   # the report that follows says how it ended
        key = (sum(1 for t in session.tasks if t.status.is_final),
               session.progress // PLAIN_STEP)
        if key == self._last:
            return
        self._last = key
        print(f"{session.job}: {progress_text(session)}", file=self._stream, flush=True)

    def close(self) -> None:
        pass


class LiveProgress:
    """One line redrawn in place: a spinner, a bar and the figures."""

    def __init__(self, stream: IO[str]) -> None:
        from rich.console import Console   # only here: a live line is being drawn
        from rich.live import Live

        self._console = Console(file=stream, highlight=False)
        self._live = Live(console=self._console, refresh_per_second=4, transient=False,
                          redirect_stdout=False, redirect_stderr=False)
        self._started = False

    def _line(self, session: SessionInfo) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.spinner import Spinner
        from rich.table import Table

        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True, overflow="ellipsis", max_width=24)
        for _ in range(5):
            grid.add_column(no_wrap=True)
        done, percent, rate, left = figures(session)
        mark = Spinner("dots") if session.state.is_active else \
            "✗" if session.result is SessionResult.FAILED else "✓"
        grid.add_row(mark, session.job, ProgressBar(total=100, completed=session.progress,
                                                    width=20),
                     percent, done, rate, left.replace("time left: ", ""))
        return grid

    def show(self, session: SessionInfo) -> None:
        self._live.update(self._line(session), refresh=True)
        if not self._started:
            self._live.start(refresh=True)
            self._started = True

    def close(self) -> None:
        if self._started:
            self._live.stop()


def progress_for(as_json: bool, stream: IO[str] | None = None) -> Progress:
    out = stream or sys.stdout
    if as_json:
        return NoProgress()
    if out.isatty():
        return LiveProgress(out)
    return PlainProgress(out)
