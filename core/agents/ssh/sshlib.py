"""The one place asyncssh is imported.

asyncssh 2.24 still exposes DSA keys and imports ``cryptography``'s DSA
support at import time; ``cryptography`` 51 deprecated DSA and warns on that
import with ten lines of ``CryptographyDeprecationWarning`` on stderr, before
the server's or the CLI's own output.  We never use DSA (no DSA host keys or
client keys are generated or accepted by our agents), so the warning is noise
for every user of ``server run``, read-only mode and the log.  The filter is
installed here, narrowly (that category, from asyncssh's modules only), and
every module that needs asyncssh imports it from here — so the filter is in
place in every process before asyncssh is first imported.
"""
from __future__ import annotations

import warnings

try:  # cryptography's own category; absent in very old releases
    from cryptography.utils import CryptographyDeprecationWarning as _Deprecation
except ImportError:  # pragma: no cover - cryptography < 3.x
    _Deprecation = DeprecationWarning  # type: ignore[misc,assignment]

warnings.filterwarnings("ignore", category=_Deprecation, module=r"asyncssh(\..*)?$")

import asyncssh  # noqa: E402  (must follow the filter)

__all__ = ["asyncssh"]
