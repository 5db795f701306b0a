"""Following payment links until paid: the list, one link's detail and timeline, verified refreshes, check again.

Status changes come only from verified look-ups (services.sync → services.ingest); this module reads the
cache and asks for those look-ups, at most one per link per ``REFRESH_INTERVAL`` to respect the gateway's
30 requests/minute status limit (contract §1.6).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, literal_column, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services import inputs
from services.counts import count_rows
from services.db import read_session, session_scope
from services.gateway import UPaymentsClient
from services.gateway import errors as gw
from services.ingest import add_event
from services.models import FINAL_STATUSES, STATUS_WORDS, Payment, PaymentEvent, PaymentStatus, WebhookEvent
from services.permissions import SYSTEM, Action, Actor, Role, authorize, require
from services.privacy import shield
from services.sentence import N_, phrase, say
from services.sync.events import process_event
from services.sync.verify import has_lookup_id, refresh_payment
from services.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

#: What the list shows, in filter order.
LINK_STATUSES = ("awaiting", "paid", "failed", "cancelled", "expired", "uncertain", "rejected")
STATUS_LABELS = {
    "awaiting": N_("Awaiting payment"),
    "paid": N_("Paid"),
    "failed": N_("Failed"),
    "cancelled": N_("Cancelled"),
    "expired": N_("Expired"),
    "uncertain": N_("Uncertain — check again"),
    "rejected": N_("Not created"),
}
REFRESH_INTERVAL = 10.0  # seconds between two verified look-ups of the same link
REFRESH_BUDGET = 3  # look-ups per call (the page calls every ~3 s): ≤ 60/min worst case, limiter caps at 30
STUCK_CREATING = timedelta(minutes=2)  # a "creating" row this old crashed mid-call: it is uncertain
EVENT_LABELS = {
    "created": N_("Link requested"),
    "link_active": N_("Link created at the gateway"),
    "link_rejected": N_("Gateway refused the link"),
    "link_uncertain": N_("Gateway answer lost — outcome unknown"),
    "shared": N_("Shared"),
    "reminded": N_("Reminder sent"),
    "status": N_("Status changed"),
    "redirect": N_("Customer returned from the payment page"),
    "webhook": N_("Gateway notification"),
    "checked": N_("Checked with the gateway"),
    "opened": N_("Opened by the customer"),
    "mismatch": N_("Gateway data did not match"),
    "receipt_sent": N_("Receipt sent"),
}

_last_refresh: dict[int, float] = {}
_refresh_lock = threading.Lock()


@dataclass(frozen=True)
class LinkRow:
    """One link as the list shows it (money in minor units, times UTC)."""

    pk: int
    order_id: str
    status: str  # one of LINK_STATUSES
    status_label: str
    amount_fils: int
    currency: str
    description: str | None
    customer_name: str | None
    customer_phone: str | None
    customer_email: str | None
    language: str
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    paid_at: datetime | None
    link_url: str | None
    method: str | None
    notification_type: str | None


@dataclass(frozen=True)
class LinkPage:
    rows: list[LinkRow]
    total: int
    page: int
    page_size: int


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    label: str
    actor: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class LinkDetail:
    row: LinkRow
    gateway: dict[str, Any]  # the gateway's ids and result words (None when unknown)
    timeline: list[TimelineEntry]
    reason: str | None  # why the gateway refused it, for rejected links


def display_status(payment: Payment, now: datetime | None = None) -> str:
    """The list's status for a link: a verified final status wins over our own link state."""
    if payment.status in FINAL_STATUSES:
        return payment.status
    if payment.link_state == "rejected":
        return "rejected"
    if payment.link_state in ("uncertain", "creating") and payment.verified_at is None:
        return "uncertain"
    if payment.expires_at is not None and as_utc(payment.expires_at) < (now or utcnow()):
        return "expired"
    return "awaiting"


def _status_clause(status: str, now: datetime, dialect: str = "sqlite") -> Any:
    # On SQLite, columns are written ``+payment.x`` (same value, no index) where an index on them would mislead
    # the planner: the status index reads every pending payment of the shop and ``link_state IS NULL`` every
    # payment that is not a link, where the links' own index (ix_payment_link_list) is the short way (issue 15).
    # Only the rare link states (uncertain, rejected) keep their index.
    def c(name: str) -> Any:
        column = getattr(Payment, name)
        return literal_column(f"+payment.{name}", column.type) if dialect == "sqlite" else col(column)

    pending = c("status") == PaymentStatus.PENDING
    not_expired = or_(c("expires_at").is_(None), c("expires_at") >= now)
    unsettled = c("link_state").in_(["uncertain", "creating"])
    # an uncertain link that a verified look-up has since bound (webhook/redirect) exists at the gateway
    active = or_(c("link_state").is_(None), c("link_state") == "active",
                 and_(unsettled, c("verified_at").is_not(None)))
    clauses = {
        "paid": c("status") == PaymentStatus.PAID,
        "failed": c("status") == PaymentStatus.FAILED,
        "cancelled": c("status") == PaymentStatus.CANCELLED,
        "expired": or_(c("status") == PaymentStatus.EXPIRED, and_(pending, active, c("expires_at") < now)),
        "awaiting": and_(pending, active, not_expired),
        "uncertain": and_(pending, col(Payment.link_state).in_(["uncertain", "creating"]),
                          col(Payment.verified_at).is_(None)),
        "rejected": and_(pending, col(Payment.link_state) == "rejected"),
    }
    if status not in clauses:
        raise ValueError(say("Unknown link status {value}; use one of {choices}.", value=repr(status),
                             choices=", ".join(LINK_STATUSES)))
    return clauses[status]


def _row(payment: Payment, now: datetime) -> LinkRow:
    assert payment.id is not None
    status = display_status(payment, now)
    return LinkRow(
        pk=payment.id, order_id=payment.order_id, status=status, status_label=phrase(STATUS_LABELS[status]),
        amount_fils=payment.amount_fils, currency=payment.currency, description=payment.description,
        customer_name=payment.customer_name, customer_phone=payment.customer_phone,
        customer_email=payment.customer_email, language=payment.language, created_by=payment.created_by,
        created_at=as_utc(payment.created_at), expires_at=as_utc(payment.expires_at) if payment.expires_at else None,
        paid_at=as_utc(payment.paid_at) if payment.paid_at else None, link_url=payment.link_url,
        method=payment.method, notification_type=payment.notification_type,
    )


def list_links(engine: Engine, actor: Actor, *, status: str | None = None, created_by: str | None = None,
               mine_only: bool | None = None, page: int = 1, page_size: int = 25, now: datetime | None = None,
               ) -> LinkPage:
    """A page of payment links, newest first; sales see their own unless ``mine_only=False``."""
    actor = authorize(engine, actor, Action.VIEW_LINKS)
    if mine_only is None:
        mine_only = actor.role == Role.SALES
    creator = actor.email if mine_only else (created_by or "").strip().lower() or None
    if creator != actor.email:
        require(actor, Action.VIEW_ALL_LINKS)
    now = now or utcnow()
    page, page_size = max(1, page), min(max(1, page_size), 200)
    stmt = select(Payment).where(col(Payment.source) == "link")
    if creator:
        stmt = stmt.where(col(Payment.created_by) == creator)
    if status:
        stmt = stmt.where(_status_clause(status, now, engine.dialect.name))
    with read_session(engine) as session:
        total = count_rows(session, stmt)  # on PostgreSQL counted again only after a write (services.counts)
        rows = session.exec(stmt.order_by(col(Payment.created_at).desc(), col(Payment.id).desc())
                            .offset((page - 1) * page_size).limit(page_size)).all()
    return LinkPage(rows=[shield(actor, _row(p, now)) for p in rows], total=int(total), page=page, page_size=page_size)


def link_creators(engine: Engine, actor: Actor) -> list[str]:
    """E-mails of everyone who created a link (for the creator filter)."""
    actor = authorize(engine, actor, Action.VIEW_ALL_LINKS)
    found: list[str] = []
    with read_session(engine) as session:
        # A loose index scan: one seek per creator on (created_by, created_at) instead of a DISTINCT over every
        # link, which reads all of them (a tenth of a million payments) on each rerun of the links page.
        while True:
            after = select(Payment.created_by).where(col(Payment.source) == "link",
                                                     col(Payment.created_by).is_not(None))
            if found:
                after = after.where(col(Payment.created_by) > found[-1])
            email = session.exec(after.order_by(col(Payment.created_by)).limit(1)).first()
            if email is None:
                return [e for e in found if e]
            found.append(str(email))


class LinkNotFound(ValueError):
    """The payment link asked for does not exist (or the id is not an id at all)."""


def _load_link(session: Session, actor: Actor, payment_pk: int) -> Payment:
    inputs.row_id(payment_pk, LinkNotFound, N_("Payment link"))
    payment = session.get(Payment, payment_pk)
    if payment is None or payment.source != "link":
        raise LinkNotFound(say("This payment link does not exist."))
    if payment.created_by != actor.email:
        require(actor, Action.VIEW_ALL_LINKS)
    return payment


def link_detail(engine: Engine, actor: Actor, *, payment_pk: int, now: datetime | None = None) -> LinkDetail:
    """One link with the gateway's fields and its timeline (created, shared, opened, paid …)."""
    actor = authorize(engine, actor, Action.VIEW_LINKS)
    with read_session(engine) as session:
        payment = _load_link(session, actor, payment_pk)
        events = session.exec(select(PaymentEvent).where(col(PaymentEvent.payment_pk) == payment_pk)
                              .order_by(col(PaymentEvent.at), col(PaymentEvent.id))).all()
    timeline = [dataclasses.replace(entry, detail=shield(actor, entry.detail)) for entry in map(_entry, events)]
    if payment.track_id and not any(e.kind == "opened" for e in timeline):
        # a hosted-page track id exists only once the payer picked a method (contract §2, FAQ): it was opened
        first = next((e for e in timeline if e.detail.get("track_id")), None)
        if first is not None:
            timeline.append(TimelineEntry(first.at, "opened", EVENT_LABELS["opened"], None, {}))
            timeline.sort(key=lambda e: e.at)
    reason = next((str(e.detail.get("reason")) for e in reversed(timeline)
                   if e.kind == "link_rejected" and e.detail.get("reason")), None)
    gateway = {
        "order_id": payment.order_id, "invoice_id": payment.invoice_id, "session_id": payment.session_id,
        "track_id": payment.track_id, "upay_order_id": payment.upay_order_id, "payment_id": payment.payment_id,
        "result": payment.result, "method": payment.method,
        "verified_at": as_utc(payment.verified_at) if payment.verified_at else None,
        "webhook_received": payment.webhook_received, "link_state": payment.link_state,
    }
    return LinkDetail(row=shield(actor, _row(payment, now or utcnow())), gateway=gateway, timeline=timeline,
                      reason=reason)


def _entry(event: PaymentEvent) -> TimelineEntry:
    try:
        detail = json.loads(event.detail) if event.detail else {}
    except ValueError:
        detail = {"raw": event.detail}
    label: str = phrase(EVENT_LABELS[event.kind]) if event.kind in EVENT_LABELS else \
        event.kind.replace("_", " ").capitalize()
    if event.kind == "status" and detail.get("to"):
        shown = "awaiting" if detail["to"] == PaymentStatus.PENDING else detail["to"]
        label = say("Status: {status}", status=phrase(STATUS_LABELS[shown]) if shown in STATUS_LABELS
                    else str(detail["to"]))
    elif event.kind in ("shared", "reminded") and detail.get("channel"):
        label = say("{what} ({channel})", what=phrase(label), channel=str(detail["channel"]))
    return TimelineEntry(as_utc(event.at), event.kind, label, event.actor, detail if isinstance(detail, dict) else {})


def verified_refresh(engine: Engine, client: UPaymentsClient, payment_pk: int, *, actor: Actor,
                     source: str = "poll", limiter_timeout: float | None = 0.5) -> bool:
    """One verified status look-up of a link; False when it has no gateway id yet or the gateway is busy."""
    try:
        refresh_payment(engine, client, payment_pk=payment_pk, actor=actor, source=source,
                             limiter_timeout=limiter_timeout)
    except (gw.GatewayError, ValueError) as exc:  # CannotLookUp is a ValueError
        log.info("refresh of link %s skipped: %s", payment_pk, exc)
        return False
    return True


def refresh_awaiting(engine: Engine, client: UPaymentsClient, actor: Actor, *, payment_pks: list[int],
                     interval: float | None = None, budget: int = REFRESH_BUDGET) -> int:
    """Verified look-ups for links shown as awaiting payment: ≤ one per link per ``interval`` s, ≤ ``budget``."""
    actor = authorize(engine, actor, Action.VIEW_LINKS)
    if not actor.can(Action.SYNC):
        return 0
    interval = REFRESH_INTERVAL if interval is None else interval
    now = time.monotonic()
    due: list[int] = []
    with _refresh_lock:
        for pk in sorted(payment_pks, key=lambda p: _last_refresh.get(p, 0.0)):
            if len(due) >= budget:
                break
            if now - _last_refresh.get(pk, -interval) >= interval:
                _last_refresh[pk] = now
                due.append(pk)
    done = 0
    for pk in due:
        if not verified_refresh(engine, client, pk, actor=SYSTEM):
            break  # the gateway is busy (or the limiter full): leave the rest for the next tick
        done += 1
    return done


def check_link(engine: Engine, client: UPaymentsClient, actor: Actor, *, payment_pk: int) -> str:
    """"Check again": settle a link from what the gateway can tell us; returns one sentence for the page.

    An uncertain link has no id to look up unless a webhook or redirect carrying our order id arrived (the
    contract has no look-up by merchant order id): those are verified here; nothing is ever re-sent.
    """
    actor = authorize(engine, actor, Action.SYNC)
    with Session(engine) as session:
        payment = _load_link(session, actor, payment_pk)
        waiting = session.exec(select(WebhookEvent.id).where(col(WebhookEvent.order_id) == payment.order_id,
                                                             col(WebhookEvent.processed_at).is_(None))).all()
    for event_id in (e for e in waiting if e is not None):
        try:
            process_event(engine, client, event_id, actor=SYSTEM, limiter_timeout=5.0)
        except Exception:  # the inbox keeps it for the next sync pass
            log.exception("processing event %s for link %s failed", event_id, payment_pk)
    with Session(engine) as session:
        payment = _load_link(session, actor, payment_pk)
    if has_lookup_id(payment) and not verified_refresh(engine, client, payment_pk, actor=actor, source="check",
                                       limiter_timeout=5.0):
        return say("The gateway could not be asked right now; try again in a minute.")
    with session_scope(engine) as session:
        payment = _load_link(session, actor, payment_pk)
        if payment.link_state in ("uncertain", "creating") and payment.verified_at is not None:
            # a verified look-up bound a gateway payment to our order id: the link exists
            payment.link_state = "active"
            session.add(payment)
            add_event(session, payment_pk, "link_active", {"settled_by": "verified look-up"}, actor.email)
        elif payment.link_state == "creating" and as_utc(payment.created_at) < utcnow() - STUCK_CREATING:
            payment.link_state = "uncertain"
            session.add(payment)
        status = display_status(payment)
    if status == "uncertain":
        return say("Still unknown: the gateway has not told us about this link. It is not resent automatically; if "
                   "the customer pays, the gateway's notification will attach the payment here.")
    word = STATUS_WORDS.get(PaymentStatus.PENDING if status == "awaiting" else status)
    return say("Checked: {status}.", status=phrase(word) if word else STATUS_LABELS[status].lower())
