"""A restic-like repository: content-addressed, deduplicated, zstd-compressed
blocks in pack files, one manifest per restore point, optionally encrypted
(AES-256-GCM under a master key wrapped by passwords), stored as named objects
through a back end (a local folder, memory, or S3).

Objects (see layout)::

    config.json                 format version, id, block and pack size, encryption
    keys/<id>                   the master key wrapped by one password (encrypted only)
    packs/<xx>/<packid>.pack    blobs plus a trailer listing them (see packfile)
    index/<id>.idx              blob id -> pack location (see index)
    points/<pointid>.json.zst   one manifest per restore point, written last
    damaged.json                block copies found damaged (see damage)

A local folder also has ``lock`` (flock: shared for backup/restore/verify,
exclusive for prune and repair) and ``tmp/`` (files being written).
"""
from core.repository.backend import Backend, BackendError, LocalBackend, MemoryBackend, ObjectNotFound
from core.repository.crypto import DecryptError
from core.repository.errors import MissingParentData, PartialRestore, PointNotFound
from core.repository.keys import PasswordRequired, WrongPassword
from core.repository.model import (
    DIR,
    FILE,
    HARDLINK,
    SYMLINK,
    BlobProblem,
    Entry,
    FileEntry,
    Manifest,
    PointMeta,
    PruneReport,
    RepairReport,
    RepoStats,
    RestoreStats,
    new_point_id,
)
from core.repository.repository import Repository
from core.repository.verify import VerifyProblems
from core.repository.writer import BackupWriter

__all__ = [
    "Backend",
    "BackendError",
    "DecryptError",
    "LocalBackend",
    "MemoryBackend",
    "ObjectNotFound",
    "PasswordRequired",
    "WrongPassword",
    "DIR",
    "FILE",
    "HARDLINK",
    "SYMLINK",
    "BackupWriter",
    "BlobProblem",
    "Entry",
    "FileEntry",
    "Manifest",
    "MissingParentData",
    "PartialRestore",
    "PointMeta",
    "PointNotFound",
    "PruneReport",
    "RepairReport",
    "RepoStats",
    "Repository",
    "RestoreStats",
    "VerifyProblems",
    "new_point_id",
]
