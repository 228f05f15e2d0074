"""The HTML session report: summary, computers and logs, in one file that
opens in the browser (no scripts, no outside resources)."""
from __future__ import annotations

import os
import re
from html import escape
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

from core.api import made_text, session_figures, stopped_text
from core.models import LogItem, SessionInfo, SessionType, Stage
from core.process.private_files import make_dir, open_file

from gui.widgets.formatting import bytes_text, datetime_text, duration_text, job_text, ratio_text

_COLOURS = {"Success": "#00B336", "Warning": "#E8A317", "Failed": "#C0392B",
            "Cancelled": "#C0392B", "Skipped": "#E8A317"}

_STYLE = """
body { font-family: 'Segoe UI', 'Noto Sans', sans-serif; font-size: 13px; color: #1F2A2E;
       margin: 24px; }
h1 { font-size: 20px; margin: 0 0 4px 0; }
h2 { font-size: 15px; margin: 22px 0 6px 0; border-bottom: 2px solid #00B336; }
.sub { color: #5F6B6D; margin-bottom: 14px; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { text-align: left; padding: 3px 10px 3px 0; vertical-align: top; }
th { color: #5F6B6D; font-weight: 600; }
table.grid td, table.grid th { border-bottom: 1px solid #E1E4E6; padding: 4px 12px 4px 4px; }
.result { font-weight: 700; }
.warning { color: #B57E00; } .error { color: #C0392B; }
.log td:first-child { white-space: nowrap; color: #5F6B6D; }
"""


def _result(text: str) -> str:
    colour = _COLOURS.get(text, "#1F2A2E")
    return f'<span class="result" style="color:{colour}">{escape(text)}</span>'


def _log(items: list[LogItem]) -> str:
    if not items:
        return "<p>(no entries)</p>"
    rows = "".join(
        f'<tr class="{escape(i.level)}"><td>{escape(datetime_text(i.time, seconds=True))}</td>'
        f"<td>{escape(i.text)}</td></tr>" for i in items)
    return f'<table class="log">{rows}</table>'


def session_report_html(session: SessionInfo) -> str:
    fig = session_figures(session)
    result = session.result.value if session.result else f"{session.state.value} " \
        f"{session.progress}%"
    what = f"{made_text(session)} backup" if session.type is SessionType.BACKUP \
        else session.type.value
    stopped = stopped_text(session)
    summary = [
        ("Result", _result(result) + (f" — {escape(stopped.lower())}" if stopped else "")),
        ("Session", escape(session.id)),
        ("Started", escape(datetime_text(session.created, seconds=True))),
        ("Ended", escape(datetime_text(session.ended, seconds=True))),
        ("Duration", escape(duration_text(fig.duration_s))),
        ("Processing rate", escape(f"{bytes_text(fig.rate_bps)}/s" if fig.rate_bps else "—")),
        ("Bottleneck", escape(fig.bottleneck_text() + (
            " (" + ", ".join(f"{s.value} {fig.stage_percent(s)}%" for s in Stage) + ")"
            if fig.bottleneck else ""))),
        ("Processed", escape(bytes_text(fig.processed))),
        ("Read", escape(bytes_text(fig.read))),
        ("Transferred", escape(bytes_text(fig.transferred))),
        ("Saving", escape(f"{ratio_text(fig.dedup)} dedup × {ratio_text(fig.compression)} "
                          "compression" if fig.saving else "—")),
        ("Computers", escape(f"{fig.success} success, {fig.warning} warning, {fig.error} error, "
                             f"{fig.skipped} skipped")),
    ]
    op = session.operation
    if op is not None and op.target:
        summary.append(("Restored to", escape(op.target + (" (original location)"
                                                           if op.original_location else ""))))
    head = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in summary)
    computers = "".join(
        f"<tr><td>{escape(t.computer)}</td><td>{_result(t.status.value)}</td>"
        f"<td>{escape(t.point_type.value if t.point_type else '')}</td>"
        f"<td>{escape(datetime_text(t.started, seconds=True))}</td>"
        f"<td>{escape(duration_text(t.duration_s))}</td>"
        f"<td>{escape(f'{t.files_done:,}/{t.files_total:,}')}</td>"
        f"<td>{escape(bytes_text(t.bytes_processed))}</td>"
        f"<td>{escape(bytes_text(t.bytes_read))}</td>"
        f"<td>{escape(bytes_text(t.bytes_transferred))}</td></tr>" for t in session.tasks)
    logs = "".join(f"<h3>{escape(t.computer)}</h3>{_log(t.log)}" for t in session.tasks)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(job_text(session.job))} — {escape(session.type.value)} session report</title>
<style>{_STYLE}</style></head><body>
<h1>{escape(job_text(session.job))}: {escape(what)} session</h1>
<div class="sub">Agent Backup Console session report · {escape(session.run_kind.value)} run</div>
<h2>Summary</h2><table>{head}</table>
<h2>Computers</h2>
<table class="grid"><tr><th>Computer</th><th>Status</th><th>Made</th><th>Started</th>
<th>Duration</th><th>Files</th><th>Processed</th><th>Read</th><th>Transferred</th></tr>
{computers}</table>
<h2>Session log</h2>{_log(session.log)}
<h2>Computer logs</h2>{logs}
</body></html>
"""


def report_path(folder: Path, session: SessionInfo) -> Path:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", job_text(session.job)).strip("_") or "session"
    return folder / f"{name}-{session.type.value.lower()}-{session.id}.html"


def save_report(session: SessionInfo, folder: Path) -> Path:
    make_dir(folder)   # in the data directory: owner-only, like the logs it quotes
    path = report_path(folder, session)
    with os.fdopen(open_file(path, os.O_WRONLY | os.O_TRUNC), "w", encoding="utf-8") as f:
        f.write(session_report_html(session))
    return path


def open_in_browser(path: Path) -> bool:
    """Open the report with the desktop's browser (tests replace this)."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
