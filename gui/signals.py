"""Emitting Qt signals from Python safely.

PySide6 6.12.0's ``SignalInstance.emit()`` returns its bool result without a
new reference: every emit steals one reference to ``True``, and after a few
hundred emits CPython aborts with "bool_dealloc: deallocating True or False".
The console emits constantly (engine events, worker results), so all of its
emits go through :func:`emit`, which detects the defect once at import and
gives the stolen reference back. On a fixed PySide6, or on Python >= 3.12
where ``True`` is immortal, detection finds nothing and :func:`emit` is a
plain emit.
"""
from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal, SignalInstance

_PROBES = 64

_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None


class _Probe(QObject):
    ping = Signal()


def _emit_steals_result() -> bool:
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBES):
        probe.ping.emit()
    lost = before - sys.getrefcount(True)
    steals = lost >= _PROBES // 2
    if steals:   # give back what the probe itself lost
        for _ in range(_PROBES):
            _incref(True)
    return steals


EMIT_STEALS_RESULT = _emit_steals_result()


def emit(signal: SignalInstance, *args: object) -> None:
    result: object = signal.emit(*args)  # type: ignore[func-returns-value]
    if EMIT_STEALS_RESULT:
        _incref(result)
