"""Where each kind of object lives under the repository root."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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

    def pack(self, pack_id: str) -> Path:
        return self.packs / pack_id[:2] / f"{pack_id}{PACK_SUFFIX}"

    def index_file(self, index_id: str) -> Path:
        return self.index / f"{index_id}{INDEX_SUFFIX}"

    def point(self, point_id: str) -> Path:
        return self.points / f"{point_id}{POINT_SUFFIX}"

    def list_packs(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        if not self.packs.is_dir():
            return found
        for sub in self.packs.iterdir():
            if not sub.is_dir():
                continue
            for p in sub.iterdir():
                if p.name.endswith(PACK_SUFFIX):
                    found[p.name[: -len(PACK_SUFFIX)]] = p
        return found

    def list_index_ids(self) -> list[str]:
        return sorted(
            p.name[: -len(INDEX_SUFFIX)]
            for p in self.index.iterdir()
            if p.name.endswith(INDEX_SUFFIX)
        )

    def list_point_ids(self) -> list[str]:
        return sorted(
            p.name[: -len(POINT_SUFFIX)]
            for p in self.points.iterdir()
            if p.name.endswith(POINT_SUFFIX)
        )
