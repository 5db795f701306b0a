"""Verified look-ups: which id to ask the gateway with, asking, and applying the answer to the cache.

The gateway's status look-up is the only proof of a payment's state: its answer is bound to the cached payment
(order id + amount + currency, by :func:`services.ingest.upsert`) and applied. Webhooks and redirects only
trigger a look-up (:mod:`services.sync_events`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from services.db import session_scope
from services.gateway import Transaction, UPaymentsClient
from services.gateway import errors as gw
from services.ingest import UpsertResult, observation_from_transaction, upsert
from services.models import Payment, PaymentEvent
from services.permissions import Action, Actor, require

log = logging.getLogger(__name__)

#: Gateway answers that will not change by asking again: the event is closed with the error.
PERMANENT_ERRORS: tuple[type[gw.GatewayError], ...] = (gw.NotFound, gw.BusinessRefusal, gw.ValidationFailed,
                                                        gw.BadRequest)


class CannotLookUp(ValueError):
    """The payment has no gateway id (track, invoice or session id) yet, so its status cannot be asked for."""


def lookup_ids(payment: Payment) -> dict[str, str]:
    """The one id to ask the gateway with: track id, else invoice id, else session id."""
    for name in ("track_id", "invoice_id", "session_id"):
        value = getattr(payment, name)
        if value:
            return {name: value}
    raise CannotLookUp(
        f"Payment {payment.order_id} has no track, invoice or session id yet, so the gateway cannot be asked "
        "about it."
    )


def lookup(client: UPaymentsClient, ids: dict[str, str], *, limiter_timeout: float | None = None) -> Transaction:
    """``payments.status`` by one id."""
    return client.payments.status(**ids, limiter_timeout=limiter_timeout)


def clip(value: str | None, size: int) -> str | None:
    """``value`` cut to a column's size."""
    return value[:size] if value else value


def add_event(session: Session, payment_pk: int, kind: str, detail: dict[str, Any], actor: str | None = None,
               ) -> None:
    """Add a timeline entry for a payment in ``session``."""
    session.add(PaymentEvent(payment_pk=payment_pk, kind=kind, actor=actor, detail=json.dumps(detail, default=str)))


def apply_transaction(session: Session, tx: Transaction, *, source: str,
                      known: Mapping[str, Payment] | None = None) -> UpsertResult:
    """Upsert a verified look-up result in ``session`` (never creates a payment the cache does not know).

    ``known``: the batch's payments already loaded in ``session``, by order id.
    """
    return upsert(session, observation_from_transaction(tx, source=source), create_missing=False, known=known)


def refresh_payment(engine: Engine, client: UPaymentsClient, *, payment_pk: int, actor: Actor | None = None,
                    source: str = "poll", limiter_timeout: float | None = None) -> UpsertResult:
    """Ask the gateway about one cached payment and apply the answer; ``CannotLookUp`` when it has no id yet."""
    if actor is not None:
        require(actor, Action.SYNC)
    with Session(engine) as session:
        payment = session.get(Payment, payment_pk)
        if payment is None:
            raise ValueError(f"Payment {payment_pk} does not exist.")
        ids = lookup_ids(payment)
    tx = lookup(client, ids, limiter_timeout=limiter_timeout)
    with session_scope(engine) as session:
        result = apply_transaction(session, tx, source=source)
        if result.payment is None:
            raise CannotLookUp(f"The gateway answered for order {tx.merchant_order_id}, not for this payment.")
        if actor is not None and result.payment.id is not None:
            add_event(session, result.payment.id, "checked",
                       {"source": source, "result": tx.result, "status": result.status_after}, actor.email)
    return result
