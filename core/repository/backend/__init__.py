"""Storage back ends under the repository (restic-style): the repository's
format (packs, index, manifests, keys) is written as named objects through
:class:`Backend`, so it works unchanged on a local folder, in memory (tests)
or on S3-compatible object storage."""
from core.repository.backend.base import Backend, BackendError, BackendLock, ObjectInfo, ObjectNotFound, Usage
from core.repository.backend.local import LocalBackend
from core.repository.backend.memory import MemoryBackend

__all__ = [
    "Backend", "BackendError", "BackendLock", "LocalBackend", "MemoryBackend", "ObjectInfo", "ObjectNotFound",
    "Usage",
]
