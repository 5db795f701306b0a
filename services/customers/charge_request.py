"""Asking for a saved-card charge (auto-deduct, customer absent), and approving or rejecting one.

Intent first: the ``card_charge`` row (unique idempotency key, our order id made before any call) is committed
before the gateway hears of it — ``sending``, or ``pending_approval`` when the amount is above the shop's
threshold (``settings_like.card_charge_approval_threshold_fils``, read here, never passed by a page); approval
needs a second person. A rerun with the same key reports the first outcome; a card whose last charge is
uncertain cannot be charged again until a person settles that one.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services import audit, inputs
from services.customer_keys import parse_key
from services.db import session_scope
from services.models import CardCharge, CardChargeState
from services.money import parse_amount
from services.permissions import Action, Actor, authorize
from services.privacy import mask_key
from services.sentence import N_, say, sentence_of
from services.timeutil import utcnow

from .cards import CardError, card_of
from .charge_rows import ChargeError, charge_by_key, get_charge, twin_outcome
from .charge_send import send
from .consent import has_consent

_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class ChargeSettings(Protocol):
    """What the service reads from the shop's settings."""

    card_charge_approval_threshold_fils: int


def _threshold(settings_like: ChargeSettings) -> int:
    value = getattr(settings_like, "card_charge_approval_threshold_fils", None)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ChargeError(say("The card-charge approval threshold is not set to an amount; an admin must fix "
                              "settings."))
    return value


def _uncertain_on(engine: Engine, key: str, card_token: str) -> CardCharge | None:
    """The card's charge whose outcome nobody knows yet (it blocks a new charge: that could be a second one)."""
    with Session(engine) as session:
        row = session.exec(select(CardCharge).where(
            col(CardCharge.customer_key) == key, col(CardCharge.card_token) == card_token,
            col(CardCharge.state) == CardChargeState.UNCERTAIN)).first()
        if row is not None:
            session.expunge(row)
        return row


def charge_saved_card(engine: Engine, client: Any, actor: Actor, *, key: str, card_token: str, amount: str,
                      description: str, idempotency_key: str, settings_like: ChargeSettings) -> CardCharge:
    """Charge a saved card without the customer (auto-deduct), exactly once per ``idempotency_key``."""
    actor = authorize(engine, actor, Action.CHARGE_CARD)
    if not isinstance(idempotency_key, str) or not _KEY.match(idempotency_key):
        raise ChargeError(say("This form has expired; reload the page and try again."))
    existing = charge_by_key(engine, idempotency_key)
    if existing is not None:
        return twin_outcome(engine, existing)
    key = parse_key(key)
    try:
        amount_fils = parse_amount(amount if isinstance(amount, str) else "", "KWD")
    except (ValueError, ArithmeticError) as exc:
        raise ChargeError(sentence_of(exc) or say("Enter an amount such as 12.500.")) from None
    what = inputs.text(description, ChargeError, N_("description"), max_len=500)
    if not what:
        raise ChargeError(say("Say what the charge is for (the repeat order)."))
    threshold = _threshold(settings_like)
    if not has_consent(engine, key, card_token):
        raise ChargeError(say("Record the customer's agreement to be charged on this card first (who, when, how)."))
    blocking = _uncertain_on(engine, key, card_token)
    if blocking is not None:
        raise ChargeError(say("Charge {order} on this card is uncertain — check with UPayments and settle it first "
                              "(its track id, or \"not charged\"); a new charge now could charge twice.",
                              order=blocking.order_id))
    try:
        card = card_of(client, key, card_token)
    except CardError as exc:
        raise ChargeError(sentence_of(exc)) from None
    now = utcnow()
    state = CardChargeState.PENDING_APPROVAL if amount_fils > threshold else CardChargeState.SENDING
    row = CardCharge(idempotency_key=idempotency_key, order_id=_order_id(idempotency_key, now),
                     customer_key=key, card_token=card.token, card_label=f"{card.brand} {card.number}"[:64],
                     amount_fils=amount_fils, description=what, state=state, requested_by=actor.email,
                     created_at=now, updated_at=now)
    try:
        with session_scope(engine) as session:
            session.add(row)
            session.flush()
            audit.record(session, actor=actor.email, action="card_charge_requested", target=row.order_id,
                         after={"customer": mask_key(key), "amount_fils": amount_fils, "card": row.card_label,
                                "state": state})
            session.expunge(row)
    except IntegrityError:  # a twin inserted the same key first: its outcome is ours
        found = charge_by_key(engine, idempotency_key)
        if found is None:
            raise
        return twin_outcome(engine, found)
    assert row.id is not None
    if state == CardChargeState.PENDING_APPROVAL:
        return row
    return send(engine, client, row.id)


def _order_id(idempotency_key: str, now: datetime) -> str:
    """Our order id for a charge, fixed by its idempotency key (so a twin computes the same one)."""
    return f"SC{now:%y%m%d}{hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]}"


def approve_charge(engine: Engine, client: Any, actor: Actor, *, charge_id: int) -> CardCharge:
    """A second person approves a charge above the threshold; it is then sent (once)."""
    actor = authorize(engine, actor, Action.APPROVE_CARD_CHARGE)
    charge_id = inputs.row_id(charge_id, ChargeError, N_("Charge"))
    row = get_charge(engine, charge_id)
    if row.state != CardChargeState.PENDING_APPROVAL:
        return twin_outcome(engine, row)
    if row.requested_by == actor.email:
        raise ChargeError(say("Someone other than the person who asked for this charge must approve it."))
    _decide(engine, actor, charge_id, CardChargeState.SENDING, "card_charge_approved", row.order_id)
    return send(engine, client, charge_id)


def reject_charge(engine: Engine, actor: Actor, *, charge_id: int) -> CardCharge:
    """Refuse a charge waiting for approval (nothing is sent)."""
    actor = authorize(engine, actor, Action.APPROVE_CARD_CHARGE)
    charge_id = inputs.row_id(charge_id, ChargeError, N_("Charge"))
    _decide(engine, actor, charge_id, CardChargeState.REJECTED, "card_charge_rejected", str(charge_id))
    return get_charge(engine, charge_id)


def _decide(engine: Engine, actor: Actor, charge_id: int, state: str, action: str, target: str) -> None:
    """Move a charge out of "waiting for approval" — only the first of two deciding twins moves it (and is
    audited); the other changes nothing."""
    now = utcnow()
    with session_scope(engine) as session:
        table = CardCharge.__table__  # type: ignore[attr-defined]
        moved = session.execute(update(table).where(table.c.id == charge_id,
                                                    table.c.state == CardChargeState.PENDING_APPROVAL)
                                .values(state=state, approved_by=actor.email, decided_at=now, updated_at=now))
        if int(getattr(moved, "rowcount", 0) or 0) == 1:
            audit.record(session, actor=actor.email, action=action, target=target)
