"""The thread a session runs on, for a backup (:class:`core.engine.session.SessionRunner`) and
for a restore or verify (:class:`core.engine.operations.OperationRunner`) alike: started once,
waited for by whoever asks, finished once the subclass's ``_run`` says so."""
from __future__ import annotations

import threading


class SessionThread:
    """Runs ``self._run`` on its own daemon thread; ``_run`` sets ``self._finished`` when the
    session is over (each runner orders that with its other last steps: the service's callback,
    the catalogue's thread connection)."""

    def __init__(self, name: str) -> None:
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait at most ``timeout`` seconds (None: for ever) for the session to finish;
        whether it did."""
        return self._finished.wait(timeout)

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def _run(self) -> None:
        raise NotImplementedError
