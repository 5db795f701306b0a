"""Everything known about one payment: its columns, the last gateway payload, refunds, timeline, webhooks."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services.db import read_session
from services.models import Deposit, Payment, PaymentEvent, PaymentStatus, Refund, WebhookEvent
from services.permissions import Action, Actor, authorize
from services.privacy import scrub, shield
from services.search import support
from services.sentence import say

log = logging.getLogger(__name__)


class PaymentNotFound(ValueError):
    """No payment with that id in the cache."""


@dataclass(frozen=True)
class PaymentDetail:
    """One payment with its history; lists are newest first."""

    payment: Payment
    gateway: dict[str, Any] = field(default_factory=dict)  # the last raw gateway payload, parsed
    refunds: list[Refund] = field(default_factory=list)
    events: list[PaymentEvent] = field(default_factory=list)
    webhooks: list[WebhookEvent] = field(default_factory=list)
    deposit: Deposit | None = None  # what get-deposit-status last said (None: not asked yet)

    @property
    def refunded_fils(self) -> int:
        """Counted refunds (services.refund_state): initiated or executed at the gateway."""
        return self.payment.refunded_fils

    @property
    def captured_fils(self) -> int:
        """The amount when the payment is paid, else 0 (nothing was captured)."""
        return self.payment.amount_fils if self.payment.status == PaymentStatus.PAID else 0

    @property
    def net_fils(self) -> int:
        """Captured minus refunded."""
        return self.captured_fils - self.payment.refunded_fils

    @property
    def remaining_fils(self) -> int:
        """Amount not yet refunded (never below zero)."""
        return max(0, self.payment.amount_fils - self.payment.refunded_fils)


def parse_raw(raw: str | None) -> dict[str, Any]:
    """The stored gateway payload as a dict; anything unparsable is kept under ``"raw"`` rather than dropped."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"raw": raw}
    return value if isinstance(value, dict) else {"raw": value}


def payment_detail(engine: Engine, actor: Actor, *, payment_pk: int) -> PaymentDetail:
    """All columns, the parsed gateway payload, refunds, timeline and webhook deliveries of one payment."""
    actor = authorize(engine, actor, Action.VIEW_TRANSACTIONS)
    support.ensure_search_support(engine)
    with read_session(engine) as session:
        payment = session.get(Payment, payment_pk)
        if payment is None:
            raise PaymentNotFound(say("Payment {id} is not in the cache; it may have been removed.", id=payment_pk))
        refunds = session.exec(select(Refund).where(col(Refund.payment_pk) == payment_pk)
                               .order_by(col(Refund.created_at).desc(), col(Refund.id).desc())).all()
        events = session.exec(select(PaymentEvent).where(col(PaymentEvent.payment_pk) == payment_pk)
                              .order_by(col(PaymentEvent.at).desc(), col(PaymentEvent.id).desc())).all()
        webhooks = session.exec(select(WebhookEvent).where(col(WebhookEvent.payment_pk) == payment_pk)
                                .order_by(col(WebhookEvent.received_at).desc(), col(WebhookEvent.id).desc())).all()
        deposit = session.get(Deposit, payment_pk)
        session.expunge_all()
    phone, email = payment.customer_phone, payment.customer_email
    payment = shield(actor, payment)  # contact data masked for roles that may not see it
    for event in events:
        event.detail = scrub(actor, event.detail, phone=phone, email=email)
    gateway = parse_raw(scrub(actor, payment.raw, phone=phone, email=email))
    if not actor.can(Action.VIEW_GATEWAY_PAYLOAD):  # the raw gateway JSON is for finance and admins only
        payment, gateway = payment.model_copy(update={"raw": None}), {}
        webhooks = [w.model_copy(update={"body": ""}) for w in webhooks]
    return PaymentDetail(payment, gateway, list(refunds), list(events), list(webhooks), deposit)
