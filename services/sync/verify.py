"""Verified look-ups: which id to ask the gateway with, asking, and applying the answer to the cache.

The gateway's status look-up is the only proof of a payment's state: its answer is bound to the cached payment
(order id + amount + currency, by :func:`services.ingest.upsert`) and applied. Webhooks and redirects only
trigger a look-up (:mod:`services.sync.events`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import ColumnElement, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from services import inputs
from services.db import session_scope
from services.gateway import Lane, Transaction, UPaymentsClient
from services.gateway import errors as gw
from services.ingest import UpsertResult, add_event, observation_from_transaction, upsert
from services.models import Payment
from services.permissions import Action, Actor, authorize
from services.sentence import N_, say

log = logging.getLogger(__name__)

#: Gateway answers that will not change by asking again: the event is closed with the error.
PERMANENT_ERRORS: tuple[type[gw.GatewayError], ...] = (gw.NotFound, gw.BusinessRefusal, gw.ValidationFailed,
                                                        gw.BadRequest)


class CannotLookUp(ValueError):
    """The payment has no gateway id (track, invoice or session id) yet, so its status cannot be asked for."""


class PaymentUnknown(ValueError):
    """No cached payment has this id (or the id is not an id at all)."""


#: The gateway ids a payment can be looked up by, in order of preference.
LOOKUP_FIELDS = ("track_id", "invoice_id", "session_id")


def usable_invoice_id(value: str | None) -> str | None:
    """An invoice id get-payment-status takes: create-invoice's opaque one, never the redirect's number (§18 F6)."""
    return value if value and not value.isdigit() else None


def _lookup_value(payment: Payment, name: str) -> str | None:
    value: str | None = getattr(payment, name)
    return usable_invoice_id(value) if name == "invoice_id" else value


def has_lookup_id(payment: Payment) -> bool:
    """True when :func:`lookup_ids` has an id to ask the gateway with."""
    return any(_lookup_value(payment, name) for name in LOOKUP_FIELDS)


def has_lookup_id_clause() -> ColumnElement[bool]:
    """SQL filter: the payment has a track, invoice or session id."""
    return or_(*(col(getattr(Payment, name)).is_not(None) for name in LOOKUP_FIELDS))


def link_ids(payment: Payment) -> dict[str, str] | None:
    """What identifies a link at the gateway across every attempt of the customer (a "Try again" after a decline
    is a new track id on the same session/invoice): the session id, else create-invoice's opaque invoice id.

    Never a numeric invoice id: that is the redirect's, which get-payment-status does not accept (§18 F6).
    """
    if payment.source != "link":
        return None
    if payment.session_id:
        return {"session_id": payment.session_id}
    if usable_invoice_id(payment.invoice_id):
        return {"invoice_id": payment.invoice_id or ""}
    return None


def lookup_ids(payment: Payment) -> dict[str, str]:
    """The one id to ask the gateway with: a link's own id (:func:`link_ids`), else track, invoice, session id."""
    link = link_ids(payment)
    if link is not None:
        return link
    for name in LOOKUP_FIELDS:
        value = _lookup_value(payment, name)
        if value:
            return {name: value}
    raise CannotLookUp(say("Payment {order} has no track, invoice or session id yet, so the gateway cannot be asked "
                           "about it.", order=payment.order_id))


def lookup(client: UPaymentsClient, ids: dict[str, str], *, limiter_timeout: float | None = None,
           lane: Lane | None = None) -> Transaction:
    """``payments.status`` by one id (in ``lane``; the current lane when None)."""
    return client.payments.status(**ids, limiter_timeout=limiter_timeout, lane=lane)


def clip(value: str | None, size: int) -> str | None:
    """``value`` cut to a column's size."""
    return value[:size] if value else value


def apply_transaction(session: Session, tx: Transaction, *, source: str,
                      known: Mapping[str, Payment] | None = None) -> UpsertResult:
    """Upsert a verified look-up result in ``session`` (never creates a payment the cache does not know).

    ``known``: the batch's payments already loaded in ``session``, by order id.
    """
    return upsert(session, observation_from_transaction(tx, source=source), create_missing=False, known=known)


def lookup_payment(engine: Engine, client: UPaymentsClient, payment_pk: int, *,
                   limiter_timeout: float | None = None) -> Transaction:
    """Ask the gateway about one cached payment (``ValueError`` when unknown, ``CannotLookUp`` without an id)."""
    inputs.row_id(payment_pk, PaymentUnknown, N_("Payment"))
    with Session(engine) as session:
        payment = session.get(Payment, payment_pk)
        if payment is None:
            raise PaymentUnknown(say("Payment {id} does not exist.", id=payment_pk))
        ids = lookup_ids(payment)
    return lookup(client, ids, limiter_timeout=limiter_timeout)


def apply_lookup(session: Session, tx: Transaction, *, source: str) -> UpsertResult:
    """Apply the answer of :func:`lookup_payment`; ``CannotLookUp`` when it is about another order."""
    result = apply_transaction(session, tx, source=source)
    if result.payment is None:
        raise CannotLookUp(say("The gateway answered for order {order}, not for this payment.",
                               order=tx.merchant_order_id))
    return result


def refresh_payment(engine: Engine, client: UPaymentsClient, *, payment_pk: int, actor: Actor,
                    source: str = "poll", limiter_timeout: float | None = None) -> UpsertResult:
    """Ask the gateway about one cached payment and apply the answer; ``CannotLookUp`` when it has no id yet.

    ``actor``: the staff member asking (SYNC, the check lands on the timeline) or :data:`~services.permissions.SYSTEM`.
    """
    actor = authorize(engine, actor, Action.SYNC, allow_system=True)
    tx = lookup_payment(engine, client, payment_pk, limiter_timeout=limiter_timeout)
    with session_scope(engine) as session:
        result = apply_lookup(session, tx, source=source)
        assert result.payment is not None
        if not actor.is_system and result.payment.id is not None:
            add_event(session, result.payment.id, "checked",
                       {"source": source, "result": tx.result, "status": result.status_after}, actor.email)
    return result
