"""The webhook inbox as staff see it: deliveries newest first, with what they matched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services.db import read_session
from services.models import Payment, WebhookEvent
from services.permissions import Action, Actor, authorize
from services.sentence import say


@dataclass(frozen=True)
class InboxRow:
    """One delivery with its matched payment."""

    id: int
    received_at: datetime
    source: str
    track_id: str | None
    order_id: str | None
    result: str | None
    duplicate: bool
    processed_at: datetime | None
    error: str | None
    payment_pk: int | None
    payment_order_id: str | None
    payment_status: str | None

    @property
    def state(self) -> str:
        """``verified``, ``waiting`` (not processed yet / to retry) or ``problem``."""
        if self.processed_at is None:
            return "waiting"
        return "problem" if self.error else "verified"


@dataclass(frozen=True)
class InboxFilter:
    source: str | None = None  # webhook | redirect
    state: str | None = None  # waiting | problem | verified
    text: str | None = None  # order id or track id (exact)


def list_events(engine: Engine, actor: Actor, flt: InboxFilter | None = None, *, limit: int = 200,
                offset: int = 0) -> tuple[list[InboxRow], int]:
    """A page of deliveries, newest first, and the total for the filter."""
    actor = authorize(engine, actor, Action.VIEW_WEBHOOKS)
    flt = flt or InboxFilter()
    stmt = select(WebhookEvent, Payment.order_id, Payment.status).join(
        Payment, col(Payment.id) == col(WebhookEvent.payment_pk), isouter=True)
    if flt.source:
        stmt = stmt.where(col(WebhookEvent.source) == flt.source)
    if flt.state == "waiting":
        stmt = stmt.where(col(WebhookEvent.processed_at).is_(None))
    elif flt.state == "problem":
        stmt = stmt.where(col(WebhookEvent.processed_at).is_not(None), col(WebhookEvent.error).is_not(None))
    elif flt.state == "verified":
        stmt = stmt.where(col(WebhookEvent.processed_at).is_not(None), col(WebhookEvent.error).is_(None))
    if flt.text and flt.text.strip():
        needle = flt.text.strip()
        stmt = stmt.where((col(WebhookEvent.order_id) == needle) | (col(WebhookEvent.track_id) == needle))
    with read_session(engine) as session:
        total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
        rows = session.exec(stmt.order_by(col(WebhookEvent.received_at).desc(), col(WebhookEvent.id).desc())
                            .offset(offset).limit(limit)).all()
    return [InboxRow(id=e.id or 0, received_at=e.received_at, source=e.source, track_id=e.track_id,
                     order_id=e.order_id, result=e.result, duplicate=e.duplicate, processed_at=e.processed_at,
                     error=e.error, payment_pk=e.payment_pk, payment_order_id=order_id, payment_status=status)
            for e, order_id, status in rows], int(total)


@dataclass(frozen=True)
class EventDetail:
    """One stored delivery as the inbox shows it (``body``: untrusted data, shown as text, never as markup)."""

    id: int
    received_at: datetime
    content_type: str | None
    processed_at: datetime | None
    error: str | None
    body: str
    transport: str | None = None
    """How it came: GET or POST (§18 F5)."""
    query: str | None = None
    """The query string it came with (untrusted data, like ``body``)."""


def get_event(engine: Engine, actor: Actor, event_id: int) -> EventDetail:
    """One delivery with its raw body."""
    actor = authorize(engine, actor, Action.VIEW_WEBHOOKS)
    with read_session(engine) as session:
        event = session.get(WebhookEvent, event_id)
    if event is None:
        raise ValueError(say("Webhook event {id} does not exist.", id=event_id))
    return EventDetail(id=event.id or 0, received_at=event.received_at, content_type=event.content_type,
                       processed_at=event.processed_at, error=event.error, body=event.body,
                       transport=event.transport, query=event.query)
