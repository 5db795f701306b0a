"""Webhook inbox: every delivery is stored raw before anything else happens to it.

Processing (verifying against the gateway's status look-up, then the upsert) lives in :mod:`services.sync`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services.db import session_scope
from services.models import WebhookEvent


class PayloadTooLarge(ValueError):
    """The body is larger than the configured limit."""


@dataclass(frozen=True)
class Receipt:
    event_id: int
    duplicate: bool


def receive(engine: Engine, body: bytes, content_type: str | None, *, max_bytes: int, source: str = "webhook",
            ) -> Receipt:
    """Store one delivery raw (size-limited); an identical earlier body is flagged as a duplicate."""
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"Body of {len(body)} bytes is over the {max_bytes}-byte limit.")
    text = body.decode("utf-8", errors="replace")
    digest = hashlib.sha256(body).hexdigest()
    with session_scope(engine) as session:
        seen = session.exec(select(WebhookEvent.id).where(col(WebhookEvent.dedupe_key) == digest).limit(1)).first()
        event = WebhookEvent(source=source, content_type=(content_type or "")[:128], body=text, dedupe_key=digest,
                             duplicate=seen is not None)
        session.add(event)
        session.flush()
        assert event.id is not None
        return Receipt(event_id=event.id, duplicate=seen is not None)
