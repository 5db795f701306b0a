"""Settling a saved-card charge whose answer was lost ("uncertain — check with UPayments").

The live gateway cannot be asked about an auto-deduct by our order id (get-payment-status takes a track id, a
session id or create-invoice's invoice id, §6.1) and auto-deduct sends no notification, so a lost answer leaves
nothing to look up. A finance or admin person finds the order in the UPayments merchant portal and either

- enters its **track id** (or the opaque invoice id): :func:`settle_charge` asks get-payment-status and accepts
  the answer only if it is this charge's order, amount and currency with a final result (:mod:`.charge_answer`);
- or, when the portal has no such payment, marks it **not charged** with a reason: :func:`mark_not_charged`.

Both are audited (who, when, why). Nothing here ever calls auto-deduct again. The background pass
(:func:`settle_in_flight`) looks up only charges whose track id we know, and turns a ``sending`` charge whose
sender died into ``uncertain`` so a person sees it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services import inputs
from services.db import read_session, session_scope
from services.gateway import errors
from services.gateway.sentences import staff_sentence
from services.ingest import observation_from_transaction, upsert
from services.models import CardCharge, CardChargeState
from services.permissions import Action, Actor, authorize
from services.privacy import mask_key, may_reveal
from services.sentence import N_, phrase, say
from services.timeutil import as_utc, to_kuwait, utcnow

from .charge_answer import mismatch, state_of
from .charge_rows import ChargeError, get_charge, record_outcome
from .charge_send import lost_answer_sentence

log = logging.getLogger(__name__)

#: A charge still ``sending`` this long after its claim lost its sender (a crash): a person must settle it.
STALE_SENDING_SECONDS = 120
#: What a person may type as a track id or an opaque invoice id.
_GATEWAY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: Settled by a person: an uncertain charge; one marked not charged (the gateway's word corrects a person's).
_SETTLEABLE = frozenset({CardChargeState.UNCERTAIN, CardChargeState.NOT_CHARGED})


@dataclass(frozen=True)
class UncertainCharge:
    """A charge waiting for a person, as the customers list shows it."""

    charge_id: int
    order_id: str
    amount_fils: int
    currency: str
    customer_key: str
    customer: str  # masked for roles that do not see full numbers
    requested_by: str
    since: str  # Kuwait time of the request


def _stale(charge: CardCharge) -> bool:
    cutoff = utcnow() - timedelta(seconds=STALE_SENDING_SECONDS)
    return charge.state == CardChargeState.SENDING and charge.sent_at is not None and as_utc(charge.sent_at) < cutoff


def _kuwait(value: datetime) -> str:
    return to_kuwait(as_utc(value)).strftime("%Y-%m-%d %H:%M") + " Kuwait"


def _gateway_id(value: object, what: str) -> str:
    text = inputs.text(value, ChargeError, what, max_len=64)
    if text and not _GATEWAY_ID.match(text):
        raise ChargeError(say("A {what} has only letters, digits, '-' and '_'; copy it from the UPayments portal.",
                              what=phrase(what)))
    return text


def settle_charge(engine: Engine, client: Any, actor: Actor | None, *, charge_id: int, track_id: str = "",
                  invoice_id: str = "") -> CardCharge:
    """Settle an uncertain charge by a get-payment-status look-up of the track id (or invoice id) a person found
    in the UPayments portal — never by charging again. ``actor`` None is the background pass: it uses only a track
    id already on the charge. A wrong id, one of another order or amount, or a result not final yet is refused
    with a sentence and changes nothing."""
    person = authorize(engine, actor, Action.SETTLE_CARD_CHARGE) if actor is not None else None
    charge_id = inputs.row_id(charge_id, ChargeError, "Charge")
    track = _gateway_id(track_id, N_("track id")) if person is not None else ""
    invoice = _gateway_id(invoice_id, N_("invoice id")) if person is not None else ""
    charge = get_charge(engine, charge_id)
    if track and invoice:
        raise ChargeError(say("Enter the track id or the invoice id, not both."))
    if invoice.isdigit():
        raise ChargeError(say("That is the payment's invoice number, which UPayments cannot look up; enter the track "
                              "id shown with the payment in the UPayments portal."))
    if charge.state in (CardChargeState.PAID, CardChargeState.DECLINED) and track and track == charge.track_id:
        return charge  # the same settlement again (a double click): already done
    if charge.state not in _SETTLEABLE and not _stale(charge):
        raise ChargeError(say("Charge {order} is not waiting to be settled (it is {state}).", order=charge.order_id,
                              state=charge.state))
    if person is None:
        track = charge.track_id or ""
    if not (track or invoice):
        if person is None:
            return charge  # nothing the gateway could be asked with: it waits for a person
        raise ChargeError(say("Enter the track id of order {order} from the UPayments merchant portal.",
                              order=charge.order_id))
    try:
        tx = client.payments.status(track_id=track) if track else client.payments.status(invoice_id=invoice)
    except errors.NotFound:
        raise ChargeError(say("UPayments does not know the id {id}; nothing was changed. Copy it again from the "
                              "UPayments portal.", id=track or invoice)) from None
    except errors.GatewayError as exc:
        log.warning("card charge %s: settling look-up failed: %s", charge_id, exc)
        raise ChargeError(staff_sentence(exc, refused=N_("the look-up"), kept=N_("nothing was changed"))) from None
    problem = mismatch(charge, tx, track_id=track or None)
    if problem is not None:
        raise ChargeError(problem)
    state = state_of(tx)
    assert state is not None  # mismatch() refuses a result that is not final
    how = "track_id" if track else "invoice_id"
    settled = record_outcome(engine, charge_id, state, "card_charge_settled", track_id=tx.track_id,
                             by=person.email if person else "system",
                             movable={*_SETTLEABLE, CardChargeState.SENDING},
                             audit_extra={"looked_up_by": how, "looked_up": track or invoice,
                                          "result": tx.result})
    with session_scope(engine) as session:
        upsert(session, observation_from_transaction(tx), create_missing=False)
    return get_charge(engine, settled.id or charge_id)


def mark_not_charged(engine: Engine, actor: Actor, *, charge_id: int, reason: str,
                     checked_portal: bool) -> CardCharge:
    """A person searched the UPayments portal for the charge's order and found no payment: "not charged".

    Audited with who, when and why; the payment row is marked failed. A track id entered later still settles it
    by look-up (the gateway's word wins)."""
    actor = authorize(engine, actor, Action.SETTLE_CARD_CHARGE)
    charge_id = inputs.row_id(charge_id, ChargeError, "Charge")
    why = inputs.text(reason, ChargeError, N_("reason"), max_len=500, multiline=True)
    charge = get_charge(engine, charge_id)
    if charge.state == CardChargeState.NOT_CHARGED:
        return charge
    if charge.state != CardChargeState.UNCERTAIN and not _stale(charge):
        raise ChargeError(say("Charge {order} is not uncertain (it is {state}); nothing was changed.",
                              order=charge.order_id, state=charge.state))
    if checked_portal is not True:
        raise ChargeError(say("First search the UPayments merchant portal for order {order} and confirm that there "
                              "is no such payment.", order=charge.order_id))
    if not why:
        raise ChargeError(say("Say why you are sure it was not charged (what the portal showed)."))
    when = utcnow()
    return record_outcome(engine, charge_id, CardChargeState.NOT_CHARGED, "card_charge_marked_not_charged",
                          error=say("Marked not charged by {who} on {when}: {why}", who=actor.email,
                                    when=_kuwait(when), why=why),
                          by=actor.email, movable={CardChargeState.UNCERTAIN, CardChargeState.SENDING},
                          fail_payment=True,
                          audit_extra={"reason": why, "checked_portal": True, "at": when.isoformat()})


def settle_in_flight(engine: Engine, client: Any, *, actor: Actor, limit: int = 20) -> int:
    """Background pass: settle in-flight charges whose track id we know; a crashed sender's charge becomes
    uncertain (for a person). How many were settled by look-up."""
    authorize(engine, actor, Action.CHARGE_CARD, allow_system=True)
    cutoff = utcnow() - timedelta(seconds=STALE_SENDING_SECONDS)
    with Session(engine) as session:
        rows = session.exec(select(CardCharge.id, CardCharge.track_id).where(
            (col(CardCharge.state) == CardChargeState.UNCERTAIN)
            | ((col(CardCharge.state) == CardChargeState.SENDING) & (col(CardCharge.sent_at) < cutoff)))
            .order_by(col(CardCharge.id)).limit(limit)).all()
    settled = 0
    for charge_id, track in rows:
        if charge_id is None:
            continue
        if not track:
            charge = get_charge(engine, charge_id)
            if charge.state == CardChargeState.SENDING:
                record_outcome(engine, charge_id, CardChargeState.UNCERTAIN, "card_charge_uncertain",
                               by="system", movable={CardChargeState.SENDING},
                               error=lost_answer_sentence(charge.order_id, "the sender stopped before recording "
                                                          "UPayments' answer"))
            continue
        try:
            if settle_charge(engine, client, None, charge_id=charge_id).state in (CardChargeState.PAID,
                                                                                  CardChargeState.DECLINED):
                settled += 1
        except ChargeError as exc:
            log.warning("card charge %s: not settled by the background pass: %s", charge_id, exc)
    return settled


def uncertain_charges(engine: Engine, actor: Actor, *, limit: int = 50) -> list[UncertainCharge]:
    """Every charge waiting for a person ("uncertain — check with UPayments"), oldest first."""
    actor = authorize(engine, actor, Action.VIEW_CUSTOMERS)
    with read_session(engine) as session:
        rows = session.exec(select(CardCharge).where(col(CardCharge.state) == CardChargeState.UNCERTAIN)
                            .order_by(col(CardCharge.created_at), col(CardCharge.id)).limit(limit)).all()
    reveal = may_reveal(actor)
    return [UncertainCharge(charge_id=r.id or 0, order_id=r.order_id, amount_fils=r.amount_fils,
                            currency=r.currency, customer_key=r.customer_key,
                            customer=r.customer_key if reveal else mask_key(r.customer_key),
                            requested_by=r.requested_by, since=_kuwait(r.created_at)) for r in rows]
