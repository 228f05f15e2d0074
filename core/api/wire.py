"""Events on the wire: the JSON form of :mod:`core.events` dataclasses."""
from __future__ import annotations

import json
from dataclasses import asdict

from core.events import CatalogueChanged, Event, JobsChanged, PointsChanged, SessionChanged

EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls for cls in (JobsChanged, SessionChanged, PointsChanged, CatalogueChanged)
}


def encode_event(event: Event) -> str:
    return json.dumps({"type": type(event).__name__, **asdict(event)})


def decode_event(data: str) -> Event:
    """An event from its JSON; an unknown type becomes CatalogueChanged
    (refresh everything), so a newer server never breaks an older console."""
    try:
        raw = json.loads(data)
        cls = EVENT_TYPES[raw.pop("type")]
        return cls(**raw)
    except (ValueError, KeyError, TypeError, AttributeError):
        return CatalogueChanged()
