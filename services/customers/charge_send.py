"""Sending a saved-card charge: the one claimant calls ``auto-deduct`` once and records what it answered.

Only the caller whose :func:`intents.claim` wins calls the gateway; it writes the payment row in the same
transaction as the claim. A lost answer (timeout or reset after sending, a 5xx, an unreadable 2xx) leaves the
charge ``uncertain``: the live gateway has no look-up by our order id (§6.1: track id, session id, invoice id only)
and auto-deduct sends no notification, so a person settles it from the UPayments portal (:mod:`.charge_settle`).
It is never sent again.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services import intents
from services.customer_keys import phone_of, unique_token
from services.db import session_scope
from services.gateway import Customer, errors
from services.ingest import add_event, observation_from_transaction, upsert
from services.models import CardCharge, CardChargeState, Payment
from services.sentence import say
from services.timeutil import utcnow

from .charge_answer import mismatch
from .charge_rows import get_charge, payment_row, record_outcome, twin_outcome

log = logging.getLogger(__name__)


def lost_answer_sentence(order_id: str, why: str) -> str:
    """What staff read on an uncertain charge: what happened and what to do."""
    return say("Uncertain — check with UPayments: {why}, so the card may or may not have been charged. It will not "
               "be sent again. Find order {order} in the UPayments merchant portal, then enter its track id here (or "
               "mark it not charged if the portal has no such payment).", why=why, order=order_id)


def send(engine: Engine, client: Any, charge_id: int) -> CardCharge:
    """Claim the intent; if this call won, write the payment row, call auto-deduct once, record the outcome."""
    now = utcnow()
    with session_scope(engine) as session:
        won = intents.claim(session, CardCharge, charge_id, state=CardChargeState.SENDING, marker="sent_at",
                            now=now)
        charge = session.get(CardCharge, charge_id)
        assert charge is not None
        if won:
            phone = phone_of(charge.customer_key)
            named = session.exec(select(Payment.customer_name, Payment.customer_email).where(
                col(Payment.customer_phone) == phone).limit(1)).first() if phone else None
            payment = payment_row(charge, now)
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
            session.flush()  # write payment_pk before the row is detached (expunge drops unflushed changes)
        session.expunge(charge)
    if not won:
        log.info("card charge %s is already being sent; waiting for that call's outcome", charge_id)
        return twin_outcome(engine, charge)
    try:
        result = client.cards.auto_deduct(order_id=charge.order_id, amount_fils=charge.amount_fils,
                                          currency=charge.currency, description=charge.description,
                                          card_token=charge.card_token, customer=customer,
                                          customer_token=unique_token(charge.customer_key))
    except errors.GatewayError as exc:
        if errors.is_uncertain(exc):
            log.warning("card charge %s outcome uncertain: %s", charge_id, exc)
            return record_outcome(engine, charge_id, CardChargeState.UNCERTAIN, "card_charge_uncertain",
                                  error=lost_answer_sentence(charge.order_id,
                                                             f"UPayments' answer was lost ({type(exc).__name__})"))
        return record_outcome(engine, charge_id, CardChargeState.FAILED, "card_charge_failed", error=refusal(exc),
                              fail_payment=True)
    except Exception:
        record_outcome(engine, charge_id, CardChargeState.UNCERTAIN, "card_charge_uncertain",
                       error=lost_answer_sentence(charge.order_id, "the charge call broke off unexpectedly"))
        raise
    state = CardChargeState.PAID if result.captured else CardChargeState.DECLINED
    record_outcome(engine, charge_id, state, "card_charged" if result.captured else "card_charge_declined",
                   track_id=result.track_id, raw=str(result.raw)[:4000])
    return confirm(engine, client, charge_id)


def refusal(exc: errors.GatewayError) -> str:
    """The sentence for a charge the gateway refused before any money moved."""
    if isinstance(exc, errors.ValidationFailed):
        return say("The gateway refused the charge: {reason} (the card may have been removed).",
                   reason=exc.message.rstrip("."))
    if isinstance(exc, errors.GatewayConnectionError):
        return say("UPayments could not be reached; nothing was charged. Try again in a minute.")
    return say("The gateway refused the charge: {reason}.", reason=exc.message.rstrip("."))


def confirm(engine: Engine, client: Any, charge_id: int) -> CardCharge:
    """Confirm auto-deduct's answer with get-payment-status by its track id; write it to the payment row."""
    charge = get_charge(engine, charge_id)
    if not charge.track_id:
        log.warning("card charge %s: auto-deduct answered without a track id; nothing to look up", charge_id)
        return charge
    try:
        tx = client.payments.status(track_id=charge.track_id)
    except errors.GatewayError as exc:
        log.warning("card charge %s: status look-up failed, the sync will confirm it: %s", charge_id, exc)
        with session_scope(engine) as session:  # the track id lets the sync pass look the payment up later
            payment = session.get(Payment, charge.payment_pk) if charge.payment_pk is not None else None
            if payment is not None and not payment.track_id:
                payment.track_id = charge.track_id
                session.add(payment)
        return charge
    problem = mismatch(charge, tx, track_id=charge.track_id)
    if problem is not None:
        log.warning("card charge %s: the status answer does not match the charge: %s", charge_id, problem)
        return charge
    with session_scope(engine) as session:
        upsert(session, observation_from_transaction(tx), create_missing=False)
    return get_charge(engine, charge_id)
