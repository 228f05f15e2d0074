"""Where each kind of object lives under the repository root."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import RepositoryError

PACK_SUFFIX = ".pack"
INDEX_SUFFIX = ".idx"
POINT_SUFFIX = ".json.zst"


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def packs(self) -> Path:
        return self.root / "packs"

    @property
    def index(self) -> Path:
        return self.root / "index"

    @property
    def points(self) -> Path:
        return self.root / "points"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    @property
    def damaged(self) -> Path:
        """Block copies found damaged (see damage.DamageRegistry)."""
        return self.root / "damaged.json"

    def pack(self, pack_id: str) -> Path:
        return self.packs / pack_id[:2] / f"{pack_id}{PACK_SUFFIX}"

    def index_file(self, index_id: str) -> Path:
        return self.index / f"{index_id}{INDEX_SUFFIX}"

    def point(self, point_id: str) -> Path:
        return self.points / f"{point_id}{POINT_SUFFIX}"

    def list_packs(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for sub in _listdir(self.packs):
            if sub.is_dir():
                for p in _listdir(sub):
                    if p.name.endswith(PACK_SUFFIX):
                        found[p.name[: -len(PACK_SUFFIX)]] = p
        return found

    def list_index_ids(self) -> list[str]:
        return _ids(self.index, INDEX_SUFFIX)

    def list_point_ids(self) -> list[str]:
        return _ids(self.points, POINT_SUFFIX)


def _listdir(path: Path) -> list[Path]:
    try:
        return list(path.iterdir())
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise RepositoryError(
            f"Cannot list {path}: {exc.strerror or exc}. Check that the repository disk is "
            "attached and readable."
        ) from exc


def _ids(folder: Path, suffix: str) -> list[str]:
    return sorted(p.name[: -len(suffix)] for p in _listdir(folder) if p.name.endswith(suffix))
