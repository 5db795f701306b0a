"""Webhook inbox: every delivery is stored raw before anything else happens to it.

The body is read once at the door (bounded: :func:`services.gateway.parse_notification` raises nothing but
``UnreadableNotification``): one that cannot be read, or that names ids no gateway issues, is stored already
closed with its ``unusable_reason`` and never queued, so it can never block or slow the deliveries behind it.
Processing (verifying against the gateway's status look-up, then the upsert) lives in :mod:`services.sync`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.db import session_scope
from services.gateway import Lane, RedirectParams, parse_notification
from services.gateway.redirect import GATEWAY_ID, UnreadableNotification
from services.models import Payment, PaymentStatus, WebhookEvent
from services.timeutil import utcnow

#: Statuses of a payment we are still waiting to hear about (a declined attempt may be paid on the next one).
WAITING = frozenset({PaymentStatus.PENDING, PaymentStatus.FAILED, PaymentStatus.CANCELLED})


class PayloadTooLarge(ValueError):
    """The body is larger than the configured limit."""


@dataclass(frozen=True)
class Receipt:
    event_id: int
    duplicate: bool
    unusable: str | None = None  # why it was closed at the door (then it is not queued)
    lane: Lane = Lane.UNKNOWN  # how urgent its look-up is


def transport_of(method: str, body: bytes, content_type: str | None, query: str) -> str:
    """How a delivery came (§18 F5): ``get-query``, ``post-form``, ``post-json``, ``post-query`` (fields only in
    the query string) or ``post-empty``."""
    verb = method.lower()[:5]
    if body.strip():
        text = body.lstrip()[:1]
        kind = "json" if "json" in (content_type or "").lower() or text in (b"{", b"[") else "form"
    else:
        kind = "query" if query else "empty"
    return f"{verb}-{kind}"


def read_body(body: bytes, content_type: str | None, query: str = "") -> tuple[RedirectParams | None, str | None]:
    """The parsed delivery (query string and body), or None and why it is unusable (never raises)."""
    try:
        params = parse_notification(body, content_type, query)
    except UnreadableNotification as exc:
        return None, f"Unreadable body: {exc}"
    for name, value in (("track id", params.track_id), ("invoice id", params.invoice_id),
                        ("order id", params.merchant_order_id)):
        if value and not GATEWAY_ID.match(value):
            return None, f"Unreadable body: its {name} is not an id the gateway or the dashboard issues."
    return params, None


def lane_of(session: Session, params: RedirectParams) -> tuple[Lane, int | None]:
    """``KNOWN`` when the delivery names a payment we are waiting for, ``POLL`` for another payment of ours,
    else ``UNKNOWN``; with the payment's key."""
    named = [col(Payment.order_id) == params.merchant_order_id] if params.merchant_order_id else []
    named += [col(Payment.track_id) == params.track_id] if params.track_id else []
    named += [col(Payment.invoice_id) == params.invoice_id] if params.invoice_id else []
    if not named:
        return Lane.UNKNOWN, None
    found = session.exec(select(Payment.id, Payment.status).where(or_(*named)).limit(1)).first()
    if found is None:
        return Lane.UNKNOWN, None
    return (Lane.KNOWN if found[1] in WAITING else Lane.POLL), found[0]


def receive(engine: Engine, body: bytes, content_type: str | None, *, max_bytes: int, source: str = "webhook",
            remote: str | None = None, query: str = "", method: str = "POST") -> Receipt:
    """Store one delivery raw (size-limited) with its query string and transport; an identical earlier delivery
    is flagged as a duplicate, an unreadable one is stored closed with the reason."""
    if len(body) + len(query) > max_bytes:
        raise PayloadTooLarge(f"Delivery of {len(body) + len(query)} bytes is over the {max_bytes}-byte limit.")
    # NUL cannot be stored in a PostgreSQL text column; the digest below still covers the exact bytes
    text = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    digest = hashlib.sha256(body if not query else query.encode() + b"\x00" + body).hexdigest()
    params, unusable = read_body(body, content_type, query)
    transport = transport_of(method, body, content_type, query)
    with session_scope(engine) as session:
        seen = session.exec(select(WebhookEvent.id).where(col(WebhookEvent.dedupe_key) == digest).limit(1)).first()
        lane = lane_of(session, params)[0] if params is not None else Lane.UNKNOWN
        event = WebhookEvent(source=source, content_type=_clean(content_type, 128), body=text, dedupe_key=digest,
                             duplicate=seen is not None, remote=_clean(remote, 64), transport=transport,
                             query=query.replace("\x00", "\ufffd") or None)
        if unusable is not None:
            event.unusable_reason, event.error, event.processed_at = unusable[:300], unusable, utcnow()
        session.add(event)
        session.flush()
        assert event.id is not None
        return Receipt(event_id=event.id, duplicate=seen is not None, unusable=unusable, lane=lane)


def _clean(value: str | None, size: int) -> str | None:
    return value.replace("\x00", "\ufffd")[:size] if value else value
