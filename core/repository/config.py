"""The repository's config.json: format version, id and chunking parameters."""
from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass

from core.errors import RepositoryError

from .fsio import atomic_write
from .layout import Layout

FORMAT_VERSION = 1
DEFAULT_BLOCK_SIZE = 1 << 20
DEFAULT_PACK_SIZE = 16 << 20
MIN_BLOCK_SIZE = 1 << 10
MAX_BLOCK_SIZE = 64 << 20


@dataclass(frozen=True)
class RepoConfig:
    version: int
    id: str
    block_size: int
    pack_size: int
    compression: str = "zstd"


def new_config(block_size: int | None, pack_size: int | None) -> RepoConfig:
    bs = block_size or DEFAULT_BLOCK_SIZE
    if not MIN_BLOCK_SIZE <= bs <= MAX_BLOCK_SIZE:
        raise ValueError(f"block_size must be between {MIN_BLOCK_SIZE} and {MAX_BLOCK_SIZE}")
    ps = pack_size or DEFAULT_PACK_SIZE
    if ps < 1:
        raise ValueError("pack_size must be positive")
    return RepoConfig(FORMAT_VERSION, secrets.token_hex(16), bs, ps)


def write_config(layout: Layout, config: RepoConfig) -> None:
    data = json.dumps(asdict(config), indent=2).encode() + b"\n"
    atomic_write(layout.config, data, layout.tmp)


def read_config(layout: Layout) -> RepoConfig:
    path = layout.config
    try:
        raw = json.loads(path.read_bytes())
        config = RepoConfig(
            version=int(raw["version"]),
            id=str(raw["id"]),
            block_size=int(raw["block_size"]),
            pack_size=int(raw["pack_size"]),
            compression=str(raw.get("compression", "zstd")),
        )
    except FileNotFoundError:
        raise
    except OSError as exc:
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
            f"Repository {layout.root} uses format version {config.version}, this program "
            f"understands version {FORMAT_VERSION}: use a matching program version."
        )
    if not MIN_BLOCK_SIZE <= config.block_size <= MAX_BLOCK_SIZE or config.pack_size < 1:
        raise RepositoryError(
            f"Repository config {path} has invalid sizes: restore it from a copy of the "
            "repository."
        )
    return config
