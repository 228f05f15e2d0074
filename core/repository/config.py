"""The repository's config.json: format version, id and chunking parameters."""
from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass

from core.errors import RepositoryError
from core.process.fdlimit import out_of_descriptors, too_many_open_files

from core.repository import immutability
from core.repository.layout import Layout

FORMAT_VERSION = 1
DEFAULT_BLOCK_SIZE = 1 << 20
DEFAULT_PACK_SIZE = 16 << 20
MIN_BLOCK_SIZE = 1 << 10
MAX_BLOCK_SIZE = 64 << 20
ENCRYPTION_NONE = "none"
ENCRYPTION_AES = "aes-256-gcm"
ENCRYPTIONS = (ENCRYPTION_NONE, ENCRYPTION_AES)


@dataclass(frozen=True)
class RepoConfig:
    version: int
    id: str
    block_size: int
    pack_size: int
    compression: str = "zstd"
    encryption: str = ENCRYPTION_NONE

    @property
    def encrypted(self) -> bool:
        return self.encryption != ENCRYPTION_NONE


def new_config(block_size: int | None, pack_size: int | None,
               encryption: str = ENCRYPTION_NONE) -> RepoConfig:
    bs = block_size or DEFAULT_BLOCK_SIZE
    if not MIN_BLOCK_SIZE <= bs <= MAX_BLOCK_SIZE:
        raise ValueError(f"block_size must be between {MIN_BLOCK_SIZE} and {MAX_BLOCK_SIZE}")
    ps = pack_size or DEFAULT_PACK_SIZE
    if ps < 1:
        raise ValueError("pack_size must be positive")
    return RepoConfig(FORMAT_VERSION, secrets.token_hex(16), bs, ps, encryption=encryption)


def write_config(layout: Layout, config: RepoConfig) -> None:
    """Never sealed: it says whether (and how) everything else is. OSError on failure."""
    data = json.dumps(asdict(config), indent=2).encode() + b"\n"
    layout.backend.save(layout.config, data)


def parse_config(data: bytes) -> RepoConfig:
    """ValueError, KeyError or TypeError if ``data`` is not a config."""
    raw = json.loads(data)
    return RepoConfig(
        version=int(raw["version"]),
        id=str(raw["id"]),
        block_size=int(raw["block_size"]),
        pack_size=int(raw["pack_size"]),
        compression=str(raw.get("compression", "zstd")),
        encryption=str(raw.get("encryption", ENCRYPTION_NONE)),
    )


def read_config(layout: Layout) -> RepoConfig:
    """FileNotFoundError (ObjectNotFound) if absent, RepositoryError if unusable."""
    path = layout.describe(layout.config)
    try:
        # on an immutable repository, a config.json written over with one that
        # does not parse falls back to its older locked version
        config = immutability.load_checked(layout.backend, layout.config, parse_config)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if out_of_descriptors(exc):
            raise RepositoryError(too_many_open_files(f"repository config {path}")) from exc
        raise RepositoryError(
            f"Cannot read repository config {path}: {exc.strerror or exc}. Check that the "
            "repository disk is attached and readable."
        ) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise RepositoryError(
            f"Repository config {path} is corrupt ({exc}): restore it from a copy of the "
            "repository or point the console at another repository."
        ) from exc
    if config.version != FORMAT_VERSION:
        raise RepositoryError(
            f"Repository {layout.location} uses format version {config.version}, this program "
            f"understands version {FORMAT_VERSION}: use a matching program version."
        )
    if not MIN_BLOCK_SIZE <= config.block_size <= MAX_BLOCK_SIZE or config.pack_size < 1:
        raise RepositoryError(
            f"Repository config {path} has invalid sizes: restore it from a copy of the "
            "repository."
        )
    if config.encryption not in ENCRYPTIONS:
        raise RepositoryError(
            f"Repository {layout.location} is encrypted with {config.encryption!r}, which this "
            "program does not know: use a matching program version."
        )
    return config
