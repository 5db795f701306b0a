"""Charging a saved card: with the customer present (a link offering their cards) and without (auto-deduct).

Auto-deduct moves money, so it follows the refunds' rules (services.intents, docs/security.md):

1. **Consent first.** No auto-deduct without the customer's recorded agreement for that card (who agreed, when,
   how, who wrote it down): :func:`record_consent`. Removing the card revokes it.
2. **Intent first.** The ``card_charge`` row (unique idempotency key, our order id made before any call) is
   committed before the gateway hears of it — ``sending``, or ``pending_approval`` when the amount is above the
   shop's threshold (``settings_like.card_charge_approval_threshold_fils``, read here, never passed by a page);
   approval needs a second person.
3. **One sender.** Only the caller whose :func:`intents.claim` on the row wins calls ``auto-deduct``; it writes
   the payment row in the same transaction as the claim. Every twin (double click, rerun, other tab, other
   process) waits for the recorded outcome instead.
4. **Uncertain is settled by asking.** A timeout after sending, a 5xx or an unreadable 2xx leaves the charge
   ``uncertain``; :func:`settle_charge` asks get-payment-status (``client.cards.charge_status``) and records what
   the gateway says. Nothing ever sends the same charge again.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services import audit, inputs, intents
from services.customer_keys import email_of, parse_key, phone_of, unique_token
from services.db import session_scope
from services.gateway import Customer, errors
from services.ingest import add_event, observation_from_transaction, upsert
from services.models import CardCharge, CardChargeState, CustomerConsent, Payment, PaymentStatus
from services.money import format_money, parse_amount
from services.permissions import Action, Actor, authorize
from services.privacy import mask_key
from services.sentence import N_, listing, say, sentence_of
from services.timeutil import as_utc, local_day, utcnow

from .cards import CardError, card_of

log = logging.getLogger(__name__)

CONSENT_CHANNELS = {"whatsapp": N_("WhatsApp message"), "phone": N_("Phone call"), "in_person": N_("In person"),
                    "written": N_("Signed form")}
#: How long a twin waits for the sender's outcome (the gateway timeout plus a margin).
TWIN_WAIT_SECONDS = 30.0
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class ChargeSettings(Protocol):
    """What the service reads from the shop's settings."""

    card_charge_approval_threshold_fils: int


class ChargeError(ValueError):
    """A saved-card charge that cannot be made; one sentence for the page."""


@dataclass(frozen=True)
class ChargeView:
    """A charge intent as the page shows it."""

    id: int
    state: str
    order_id: str
    amount: str
    card: str
    requested_by: str
    approved_by: str | None
    message: str


def record_consent(engine: Engine, actor: Actor, *, key: str, card_token: str, agreed_by: str,
                   agreed_at: datetime, channel: str, note: str = "") -> CustomerConsent:
    """Write down the customer's agreement to be charged without being present, for one saved card."""
    actor = authorize(engine, actor, Action.CHARGE_CARD)
    key = parse_key(key)
    who = inputs.text(agreed_by, ChargeError, N_("name of the person who agreed"), max_len=255)
    if not who:
        raise ChargeError(say("Write who agreed (the customer's name)."))
    if channel not in CONSENT_CHANNELS:
        raise ChargeError(say("Say how they agreed: {choices}.", choices=listing(CONSENT_CHANNELS.values())))
    if not isinstance(agreed_at, datetime) or agreed_at.tzinfo is None or as_utc(agreed_at) > utcnow():
        raise ChargeError(say("When they agreed must be a date and time in the past."))
    if not isinstance(card_token, str) or not (card_token.isascii() and card_token.isdigit()) or len(card_token) > 64:
        raise ChargeError(say("Pick one of the customer's saved cards."))
    text = inputs.text(note, ChargeError, N_("note"), max_len=500, multiline=True)
    consent = CustomerConsent(customer_key=key, card_token=card_token, agreed_by=who, agreed_at=as_utc(agreed_at),
                              channel=channel, note=text or None, recorded_by=actor.email)
    with session_scope(engine) as session:
        session.add(consent)
        audit.record(session, actor=actor.email, action="card_consent_recorded", target=mask_key(key),
                     after={"agreed_by": who, "agreed_at": as_utc(agreed_at).isoformat(), "channel": channel,
                            "card": "…" + card_token[-4:]})
        session.flush()
        session.expunge(consent)
    return consent


def _has_consent(engine: Engine, key: str, card_token: str) -> bool:
    with Session(engine) as session:
        return session.exec(select(CustomerConsent.id).where(
            col(CustomerConsent.customer_key) == key, col(CustomerConsent.card_token) == card_token,
            col(CustomerConsent.revoked_at).is_(None))).first() is not None


def _get(engine: Engine, charge_id: int) -> CardCharge:
    with Session(engine) as session:
        row = session.get(CardCharge, charge_id)
        if row is None:
            raise ChargeError(say("Charge #{id} was not found.", id=charge_id))
        session.expunge(row)
        return row


def _by_key(engine: Engine, key: str) -> CardCharge | None:
    with Session(engine) as session:
        row = session.exec(select(CardCharge).where(col(CardCharge.idempotency_key) == key)).first()
        if row is not None:
            session.expunge(row)
        return row


def _threshold(settings_like: ChargeSettings) -> int:
    value = getattr(settings_like, "card_charge_approval_threshold_fils", None)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ChargeError(say("The card-charge approval threshold is not set to an amount; an admin must fix "
                              "settings."))
    return value


def charge_saved_card(engine: Engine, client: Any, actor: Actor, *, key: str, card_token: str, amount: str,
                      description: str, idempotency_key: str, settings_like: ChargeSettings) -> CardCharge:
    """Charge a saved card without the customer (auto-deduct), exactly once per ``idempotency_key``."""
    actor = authorize(engine, actor, Action.CHARGE_CARD)
    if not isinstance(idempotency_key, str) or not _KEY.match(idempotency_key):
        raise ChargeError(say("This form has expired; reload the page and try again."))
    existing = _by_key(engine, idempotency_key)
    if existing is not None:
        return _twin_outcome(engine, existing)
    key = parse_key(key)
    try:
        amount_fils = parse_amount(amount if isinstance(amount, str) else "", "KWD")
    except (ValueError, ArithmeticError) as exc:
        raise ChargeError(sentence_of(exc) or say("Enter an amount such as 12.500.")) from None
    what = inputs.text(description, ChargeError, N_("description"), max_len=500)
    if not what:
        raise ChargeError(say("Say what the charge is for (the repeat order)."))
    threshold = _threshold(settings_like)
    if not _has_consent(engine, key, card_token):
        raise ChargeError(say("Record the customer's agreement to be charged on this card first (who, when, how)."))
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
        found = _by_key(engine, idempotency_key)
        if found is None:
            raise
        return _twin_outcome(engine, found)
    assert row.id is not None
    if state == CardChargeState.PENDING_APPROVAL:
        return row
    return _send(engine, client, row.id)


def _order_id(idempotency_key: str, now: datetime) -> str:
    """Our order id for a charge, fixed by its idempotency key (so a twin computes the same one)."""
    return f"SC{now:%y%m%d}{hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]}"


def approve_charge(engine: Engine, client: Any, actor: Actor, *, charge_id: int) -> CardCharge:
    """A second person approves a charge above the threshold; it is then sent (once)."""
    actor = authorize(engine, actor, Action.APPROVE_CARD_CHARGE)
    charge_id = inputs.row_id(charge_id, ChargeError, N_("Charge"))
    row = _get(engine, charge_id)
    if row.state != CardChargeState.PENDING_APPROVAL:
        return _twin_outcome(engine, row)
    if row.requested_by == actor.email:
        raise ChargeError(say("Someone other than the person who asked for this charge must approve it."))
    now = utcnow()
    with session_scope(engine) as session:
        table = CardCharge.__table__  # type: ignore[attr-defined]
        moved = session.execute(update(table).where(table.c.id == charge_id,
                                                    table.c.state == CardChargeState.PENDING_APPROVAL)
                                .values(state=CardChargeState.SENDING, approved_by=actor.email, decided_at=now,
                                        updated_at=now))
        if int(getattr(moved, "rowcount", 0) or 0) == 1:
            audit.record(session, actor=actor.email, action="card_charge_approved", target=row.order_id)
    return _send(engine, client, charge_id)


def reject_charge(engine: Engine, actor: Actor, *, charge_id: int) -> CardCharge:
    """Refuse a charge waiting for approval (nothing is sent)."""
    actor = authorize(engine, actor, Action.APPROVE_CARD_CHARGE)
    charge_id = inputs.row_id(charge_id, ChargeError, N_("Charge"))
    now = utcnow()
    with session_scope(engine) as session:
        table = CardCharge.__table__  # type: ignore[attr-defined]
        moved = session.execute(update(table).where(table.c.id == charge_id,
                                                    table.c.state == CardChargeState.PENDING_APPROVAL)
                                .values(state=CardChargeState.REJECTED, approved_by=actor.email, decided_at=now,
                                        updated_at=now))
        if int(getattr(moved, "rowcount", 0) or 0) == 1:
            audit.record(session, actor=actor.email, action="card_charge_rejected", target=str(charge_id))
    return _get(engine, charge_id)


def _twin_outcome(engine: Engine, row: CardCharge) -> CardCharge:
    """A twin never sends: it waits for the sender's recorded outcome (bounded), then reports the row."""
    assert row.id is not None
    charge_id = row.id
    current, _ = intents.await_outcome(lambda: _get(engine, charge_id),
                                       lambda r: r.state == CardChargeState.SENDING, timeout=TWIN_WAIT_SECONDS)
    return current


def _payment_row(charge: CardCharge, now: datetime) -> Payment:
    return Payment(order_id=charge.order_id, reference=charge.order_id, amount_fils=charge.amount_fils,
                   currency=charge.currency, status=PaymentStatus.PENDING, source="saved_card",
                   created_by=charge.approved_by or charge.requested_by, created_at=now, local_day=local_day(now),
                   updated_at=now, customer_phone=phone_of(charge.customer_key),
                   customer_email=email_of(charge.customer_key), description=charge.description,
                   method="card", method_family="card")


def _send(engine: Engine, client: Any, charge_id: int) -> CardCharge:
    """Claim the intent; if this call won, write the payment row, call auto-deduct once, record the outcome."""
    now = utcnow()
    with session_scope(engine) as session:
        won = intents.claim(session, CardCharge, charge_id, state=CardChargeState.SENDING, marker="sent_at",
                            now=now)
        charge = session.get(CardCharge, charge_id)
        assert charge is not None
        if won:
            named = session.exec(select(Payment.customer_name, Payment.customer_email).where(
                col(Payment.customer_phone) == phone_of(charge.customer_key)).limit(1)).first() if phone_of(
                charge.customer_key) else None
            payment = _payment_row(charge, now)
            if named is not None:
                payment.customer_name, payment.customer_email = named[0], payment.customer_email or named[1]
            session.add(payment)
            session.flush()
            assert payment.id is not None
            charge.payment_pk = payment.id
            session.add(charge)
            add_event(session, payment.id, "created", {"saved_card": charge.card_label,
                                                       "amount_fils": charge.amount_fils}, charge.requested_by)
            customer = Customer(name=payment.customer_name, email=payment.customer_email,
                                mobile=payment.customer_phone)
        session.expunge(charge)
    if not won:
        log.info("card charge %s is already being sent; waiting for that call's outcome", charge_id)
        return _twin_outcome(engine, charge)
    try:
        result = client.cards.auto_deduct(order_id=charge.order_id, amount_fils=charge.amount_fils,
                                          currency=charge.currency, description=charge.description,
                                          card_token=charge.card_token, customer=customer,
                                          customer_token=unique_token(charge.customer_key))
    except errors.GatewayError as exc:
        if errors.is_uncertain(exc):
            log.warning("card charge %s outcome uncertain: %s", charge_id, exc)
            _record(engine, charge_id, CardChargeState.UNCERTAIN, "card_charge_uncertain",
                    error=f"The gateway's answer was lost ({type(exc).__name__}); the charge is being checked with "
                          "UPayments and will not be sent twice.")
            return settle_charge(engine, client, None, charge_id=charge_id)
        return _record(engine, charge_id, CardChargeState.FAILED, "card_charge_failed",
                       error=_refusal(exc))
    except Exception:
        _record(engine, charge_id, CardChargeState.UNCERTAIN, "card_charge_uncertain",
                error="The charge call broke off unexpectedly; it is being checked with UPayments.")
        raise
    state = CardChargeState.PAID if result.captured else CardChargeState.DECLINED
    _record(engine, charge_id, state, "card_charged" if result.captured else "card_charge_declined",
            track_id=result.track_id, raw=str(result.raw)[:4000])
    return _confirm(engine, client, charge_id)


def _refusal(exc: errors.GatewayError) -> str:
    if isinstance(exc, errors.ValidationFailed):
        return say("The gateway refused the charge: {reason} (the card may have been removed).",
                   reason=exc.message.rstrip("."))
    if isinstance(exc, errors.GatewayConnectionError):
        return say("UPayments could not be reached; nothing was charged. Try again in a minute.")
    return say("The gateway refused the charge: {reason}.", reason=exc.message.rstrip("."))


def _record(engine: Engine, charge_id: int, state: CardChargeState, action: str, *, error: str | None = None,
            track_id: str | None = None, raw: str | None = None) -> CardCharge:
    """Write an outcome once: only a charge still in flight (sending/uncertain) moves."""
    now = utcnow()
    with session_scope(engine) as session:
        charge = session.get(CardCharge, charge_id)
        assert charge is not None
        if charge.state in (CardChargeState.SENDING, CardChargeState.UNCERTAIN) and charge.state != state:
            charge.state = state
            charge.error = error
            charge.track_id = track_id or charge.track_id
            charge.raw = raw or charge.raw
            charge.updated_at = now
            session.add(charge)
            if charge.payment_pk is not None and state in (CardChargeState.FAILED,):
                payment = session.get(Payment, charge.payment_pk)
                if payment is not None and payment.status == PaymentStatus.PENDING:
                    payment.status = PaymentStatus.FAILED
                    payment.updated_at = now
                    session.add(payment)
            audit.record(session, actor=charge.approved_by or charge.requested_by, action=action,
                         target=charge.order_id, after={"state": state, "track_id": charge.track_id,
                                                        "amount": format_money(charge.amount_fils)})
        session.flush()
        session.expunge(charge)
        return charge


def _confirm(engine: Engine, client: Any, charge_id: int) -> CardCharge:
    """Confirm the answer with get-payment-status and write it to the payment row (the one upsert)."""
    charge = _get(engine, charge_id)
    try:
        tx = client.cards.charge_status(order_id=charge.order_id, track_id=charge.track_id)
    except errors.GatewayError as exc:
        log.warning("card charge %s: status look-up failed, the sync will confirm it: %s", charge_id, exc)
        return charge
    with session_scope(engine) as session:
        upsert(session, observation_from_transaction(tx), create_missing=False)
    return _get(engine, charge_id)


def settle_charge(engine: Engine, client: Any, actor: Actor | None, *, charge_id: int) -> CardCharge:
    """Settle an uncertain (or crashed ``sending``) charge by asking the gateway — never by charging again.

    ``actor`` None is the sender itself; a person needs CHARGE_CARD. When the gateway does not know the charge
    yet it stays uncertain (ask again later).
    """
    if actor is not None:
        authorize(engine, actor, Action.CHARGE_CARD, allow_system=True)
    charge = _get(engine, charge_id)
    if charge.state not in (CardChargeState.UNCERTAIN, CardChargeState.SENDING) or charge.sent_at is None:
        return charge
    try:
        tx = client.cards.charge_status(order_id=charge.order_id, track_id=charge.track_id)
    except errors.NotFound:
        return charge  # not (yet) at the gateway: still uncertain, never resent
    except errors.GatewayError as exc:
        log.warning("card charge %s: settling look-up failed: %s", charge_id, exc)
        return charge
    if tx.result is None:
        return charge
    state = CardChargeState.PAID if tx.result == "CAPTURED" else CardChargeState.DECLINED
    _record(engine, charge_id, state, "card_charge_settled", track_id=tx.track_id)
    with session_scope(engine) as session:
        upsert(session, observation_from_transaction(tx), create_missing=False)
    return _get(engine, charge_id)


#: A charge still ``sending`` this long after its claim lost its sender (a crash): settle it from the gateway.
STALE_SENDING_SECONDS = 120


def settle_in_flight(engine: Engine, client: Any, *, actor: Actor, limit: int = 20) -> int:
    """Background pass: ask the gateway about uncertain charges and crashed senders; how many were settled."""
    authorize(engine, actor, Action.CHARGE_CARD, allow_system=True)
    cutoff = utcnow() - timedelta(seconds=STALE_SENDING_SECONDS)
    with Session(engine) as session:
        ids = session.exec(select(CardCharge.id).where(
            (col(CardCharge.state) == CardChargeState.UNCERTAIN)
            | ((col(CardCharge.state) == CardChargeState.SENDING) & (col(CardCharge.sent_at) < cutoff)))
            .order_by(col(CardCharge.id)).limit(limit)).all()
    settled = 0
    for charge_id in ids:
        if charge_id is not None and settle_charge(engine, client, None, charge_id=charge_id).state not in (
                CardChargeState.UNCERTAIN, CardChargeState.SENDING):
            settled += 1
    return settled


def view(charge: CardCharge) -> ChargeView:
    """A charge as one line for the page."""
    messages = {
        CardChargeState.PENDING_APPROVAL: "Waiting for a second person to approve it.",
        CardChargeState.REJECTED: "Rejected; nothing was charged.",
        CardChargeState.SENDING: "Being charged…",
        CardChargeState.UNCERTAIN: "The gateway's answer was lost; checking with UPayments (never charged twice).",
        CardChargeState.PAID: "Charged.",
        CardChargeState.DECLINED: "The card was declined; nothing was charged.",
        CardChargeState.FAILED: charge.error or "Not charged.",
    }
    return ChargeView(id=charge.id or 0, state=charge.state, order_id=charge.order_id,
                      amount=format_money(charge.amount_fils, charge.currency), card=charge.card_label or "",
                      requested_by=charge.requested_by, approved_by=charge.approved_by,
                      message=messages.get(CardChargeState(charge.state), charge.state))
