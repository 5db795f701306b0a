"""Small facts about the cache kept in ``SyncState``: when the last sync finished, and similar."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from services.db import session_scope
from services.models import SyncState
from services.timeutil import utcnow

LAST_SYNC = "last_sync_at"


def get_time(engine: Engine, key: str = LAST_SYNC) -> datetime | None:
    """The instant stored under ``key`` (UTC), or None."""
    with Session(engine) as session:
        row = session.get(SyncState, key)
    return datetime.fromisoformat(row.value) if row else None


def set_time(engine: Engine, key: str = LAST_SYNC, value: datetime | None = None) -> datetime:
    """Store an instant (default now) under ``key``."""
    at = value or utcnow()
    with session_scope(engine) as session:
        row = session.get(SyncState, key) or SyncState(key=key, value="")
        row.value, row.updated_at = at.isoformat(), utcnow()
        session.add(row)
    return at
