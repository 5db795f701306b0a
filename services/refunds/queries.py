"""Read side of refunds: the filtered list, the streamed (audited) CSV export, and a payment lookup for the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, union
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services import audit, inputs
from services.db import read_session
from services.models import Payment, Refund, RefundState
from services.money import format_amount
from services.permissions import Action, Actor, authorize
from services.phones import InvalidPhone, normalize_phone
from services.privacy import shield
from services.refunds.ledger import REASONS, RefundError, expected_arrival
from services.sentence import N_, say
from services.timeutil import to_kuwait

MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class RefundFilter:
    """What the refunds list shows; empty fields don't filter. Days are Kuwait calendar days, inclusive."""

    states: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    requested_by: str | None = None
    payment_pk: int | None = None
    order_id: str | None = None


@dataclass(frozen=True)
class RefundRow:
    """One refund joined with what the page shows of its payment."""

    id: int
    payment_pk: int
    order_id: str
    customer_name: str | None
    method: str | None
    amount_fils: int
    currency: str
    reason: str
    note: str | None
    state: str
    requested_by: str
    approved_by: str | None
    created_at: datetime
    sent_at: datetime | None
    refunded_at: datetime | None
    gateway_refund_order_id: str | None
    error: str | None
    expected_arrival: date | None = field(default=None)


def _stmt(flt: RefundFilter) -> Any:
    stmt = select(Refund, Payment).join(Payment, col(Payment.id) == col(Refund.payment_pk))
    if flt.states:
        stmt = stmt.where(col(Refund.state).in_(list(flt.states)))
    if flt.since:
        stmt = stmt.where(col(Refund.local_day) >= flt.since.isoformat())
    if flt.until:
        stmt = stmt.where(col(Refund.local_day) <= flt.until.isoformat())
    if flt.requested_by:
        stmt = stmt.where(col(Refund.requested_by) == flt.requested_by.strip().lower())
    if flt.payment_pk is not None:
        stmt = stmt.where(col(Refund.payment_pk) == flt.payment_pk)
    if flt.order_id:
        stmt = stmt.where(col(Payment.order_id) == flt.order_id.strip())
    return stmt


def _row(refund: Refund, payment: Payment) -> RefundRow:
    arrival = None
    if refund.sent_at is not None and refund.state in (RefundState.INITIATED, RefundState.REFUNDED):
        arrival = expected_arrival(payment.method, refund.sent_at)
    return RefundRow(
        id=refund.id or 0, payment_pk=payment.id or 0, order_id=payment.order_id,
        customer_name=payment.customer_name, method=payment.method, amount_fils=refund.amount_fils,
        currency=refund.currency, reason=refund.reason, note=refund.note, state=refund.state,
        requested_by=refund.requested_by, approved_by=refund.approved_by, created_at=refund.created_at,
        sent_at=refund.sent_at, refunded_at=refund.refunded_at,
        gateway_refund_order_id=refund.gateway_refund_order_id, error=refund.error, expected_arrival=arrival,
    )


def list_refunds(
    engine: Engine, actor: Actor, *, filters: RefundFilter | None = None, page: int = 1, page_size: int = 50
) -> tuple[list[RefundRow], int]:
    """A page of refunds (newest first) and the total matching ``filters``."""
    actor = authorize(engine, actor, Action.VIEW_REFUNDS)
    flt = filters or RefundFilter()
    size = max(1, min(page_size, MAX_PAGE_SIZE))
    stmt = _stmt(flt)
    with read_session(engine) as session:
        total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
        rows = session.exec(
            stmt.order_by(col(Refund.created_at).desc(), col(Refund.id).desc())
            .offset((max(1, page) - 1) * size).limit(size)
        ).all()
    return [_row(r, p) for r, p in rows], int(total)


def distinct_requesters(engine: Engine, actor: Actor) -> list[str]:
    """Who has requested refunds (for the filter select box)."""
    actor = authorize(engine, actor, Action.VIEW_REFUNDS)
    with read_session(engine) as session:
        return sorted(session.exec(select(Refund.requested_by).distinct()).all())


_COLUMNS = ("refund_id", "requested_kuwait", "order_id", "customer", "method", "amount", "currency", "reason",
            "note", "state", "requested_by", "approved_by", "sent_kuwait", "refunded_kuwait", "expected_arrival",
            "gateway_refund_id", "error")


def _when(value: datetime | None) -> str:
    return to_kuwait(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def export_refunds_csv(engine: Engine, actor: Actor, filters: RefundFilter | None = None) -> Iterator[str]:
    """The refunds matching ``filters`` as CSV lines (streamed); audited once the file has been produced."""
    actor = authorize(engine, actor, Action.EXPORT_REFUNDS)
    flt = filters or RefundFilter()
    filt = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(flt).items() if v}
    return audit.audited_stream(engine, _lines(engine, flt), by=actor.email, action="refunds_exported",
                                target="refunds", after={"filters": filt})


def _lines(engine: Engine, flt: RefundFilter) -> Iterator[str]:
    yield audit.csv_line(list(_COLUMNS))
    with read_session(engine) as session:
        result = session.exec(_stmt(flt).order_by(col(Refund.created_at), col(Refund.id))
                              .execution_options(yield_per=1000))
        for refund, payment in result:
            row = _row(refund, payment)
            yield audit.csv_line([
                row.id, _when(row.created_at), row.order_id, row.customer_name, row.method,
                format_amount(row.amount_fils, row.currency), row.currency, REASONS.get(row.reason, row.reason),
                row.note, row.state, row.requested_by, row.approved_by, _when(row.sent_at), _when(row.refunded_at),
                row.expected_arrival.isoformat() if row.expected_arrival else "", row.gateway_refund_order_id,
                row.error,
            ])


@dataclass(frozen=True)
class PaymentHit:
    """A payment found by the refunds page's search box."""

    payment_pk: int
    order_id: str
    track_id: str | None
    amount_fils: int
    currency: str
    status: str
    method: str | None
    customer_name: str | None
    customer_phone: str | None
    created_at: datetime
    refund_state: str | None = None  # services.refund_state
    refund_pending_fils: int = 0


def find_payments(engine: Engine, actor: Actor, *, query: str, limit: int = 20) -> list[PaymentHit]:
    """Payments whose order id, track id, gateway ids or phone match ``query`` (exact ids, phone digits)."""
    actor = authorize(engine, actor, Action.VIEW_REFUNDS)
    text = inputs.text(query, RefundError, N_("search"), max_len=200)
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise RefundError(say("The number of results must be a whole number."))
    limit = min(limit, 200)
    if not text:
        return []
    conditions = [col(Payment.order_id) == text, col(Payment.track_id) == text, col(Payment.upay_order_id) == text,
                  col(Payment.payment_id) == text, col(Payment.invoice_id) == text]
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 6 and not re.search(r"[^\d\s+()./\-]", text):  # looks like a phone number, not an id
        try:  # a whole number: one index look-up of its E.164 form
            conditions.append(col(Payment.customer_phone) == normalize_phone(text))
        except InvalidPhone:  # part of a number: its last digits anywhere in the phone (reads every payment)
            conditions.append(col(Payment.customer_phone).contains(digits[-8:]))
    # One indexed look-up per id column, united: an OR of them under ORDER BY created_at would walk every payment.
    matching = union(*(select(col(Payment.id)).where(condition) for condition in conditions)).subquery()
    with read_session(engine) as session:
        rows = session.exec(select(Payment).where(col(Payment.id).in_(select(matching.c.id)))
                            .order_by(col(Payment.created_at).desc()).limit(max(1, limit))).all()
    hits = [PaymentHit(payment_pk=p.id or 0, order_id=p.order_id, track_id=p.track_id, amount_fils=p.amount_fils,
                       currency=p.currency, status=p.status, method=p.method, customer_name=p.customer_name,
                       customer_phone=p.customer_phone, created_at=p.created_at, refund_state=p.refund_state,
                       refund_pending_fils=p.refund_pending_fils) for p in rows]
    return [shield(actor, hit) for hit in hits]  # contact data masked for roles that may not see it
