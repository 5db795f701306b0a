"""The ``card_charge`` intent rows: reading them, writing an outcome once, the payment row a charge makes, and
what a twin does (wait for the sender's outcome, never send)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services import audit, intents
from services.customer_keys import email_of, phone_of
from services.db import session_scope
from services.models import CardCharge, CardChargeState, Payment, PaymentStatus
from services.money import format_money
from services.sentence import say
from services.timeutil import local_day, utcnow

#: How long a twin waits for the sender's outcome (the gateway timeout plus a margin).
TWIN_WAIT_SECONDS = 30.0
#: States an outcome may be written over: the call is under way, or its answer was lost.
IN_FLIGHT = frozenset({CardChargeState.SENDING, CardChargeState.UNCERTAIN})


class ChargeError(ValueError):
    """A saved-card charge that cannot be made or settled; one sentence for the page."""


def get_charge(engine: Engine, charge_id: int) -> CardCharge:
    with Session(engine) as session:
        row = session.get(CardCharge, charge_id)
        if row is None:
            raise ChargeError(say("Charge #{id} was not found.", id=charge_id))
        session.expunge(row)
        return row


def charge_by_key(engine: Engine, key: str) -> CardCharge | None:
    with Session(engine) as session:
        row = session.exec(select(CardCharge).where(col(CardCharge.idempotency_key) == key)).first()
        if row is not None:
            session.expunge(row)
        return row


def twin_outcome(engine: Engine, row: CardCharge) -> CardCharge:
    """A twin never sends: it waits for the sender's recorded outcome (bounded), then reports the row."""
    assert row.id is not None
    charge_id = row.id
    current, _ = intents.await_outcome(lambda: get_charge(engine, charge_id),
                                       lambda r: r.state == CardChargeState.SENDING, timeout=TWIN_WAIT_SECONDS)
    return current


def payment_row(charge: CardCharge, now: datetime) -> Payment:
    """The payment a saved-card charge makes in our cache (pending until the gateway's answer says otherwise)."""
    return Payment(order_id=charge.order_id, reference=charge.order_id, amount_fils=charge.amount_fils,
                   currency=charge.currency, status=PaymentStatus.PENDING, source="saved_card",
                   created_by=charge.approved_by or charge.requested_by, created_at=now, local_day=local_day(now),
                   updated_at=now, customer_phone=phone_of(charge.customer_key),
                   customer_email=email_of(charge.customer_key), description=charge.description,
                   method="card", method_family="card")


def record_outcome(engine: Engine, charge_id: int, state: CardChargeState, action: str, *, error: str | None = None,
                   track_id: str | None = None, raw: str | None = None, by: str | None = None,
                   movable: Collection[str] = IN_FLIGHT, fail_payment: bool = False,
                   audit_extra: dict[str, Any] | None = None) -> CardCharge:
    """Write an outcome once: only a charge in one of ``movable`` states moves (a replay changes nothing).

    ``by`` is who the audit row names (default: the approver, else the requester). ``fail_payment`` also marks
    the charge's still-pending payment row failed (nothing was charged).
    """
    now = utcnow()
    with session_scope(engine) as session:
        charge = session.get(CardCharge, charge_id)
        assert charge is not None
        if charge.state in movable and charge.state != state:
            before = charge.state
            charge.state = state
            charge.error = error
            charge.track_id = track_id or charge.track_id
            charge.raw = raw or charge.raw
            charge.updated_at = now
            session.add(charge)
            if fail_payment and charge.payment_pk is not None:
                payment = session.get(Payment, charge.payment_pk)
                if payment is not None and payment.status == PaymentStatus.PENDING:
                    payment.status = PaymentStatus.FAILED
                    payment.updated_at = now
                    session.add(payment)
            audit.record(session, actor=by or charge.approved_by or charge.requested_by, action=action,
                         target=charge.order_id,
                         before={"state": before},
                         after={"state": state, "track_id": charge.track_id,
                                "amount": format_money(charge.amount_fils), **(audit_extra or {})})
        session.flush()
        session.expunge(charge)
        return charge
