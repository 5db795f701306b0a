"""The one writer of gateway data: turns a gateway payload into cache rows, idempotently and in any order.

Rules (safe to call twice, in any order):
- a payment moves only up the status rank (pending < failed/cancelled/expired < paid): paid is never undone;
- the attempt fields (track id, payment id, method, result) follow the observation that decides the status; an
  observation of equal rank wins only if it is newer; other observations only fill in missing identifiers;
- only a *verified* observation (the gateway's own status look-up, or demo data generated for both sides) may
  change a status; webhook and redirect data are evidence that triggers a look-up, never proof (contract A24);
- a verified observation is bound to the local row by merchant order id, amount and currency; a mismatch changes
  nothing and is reported.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from services.gateway.vocab import result_to_status
from services.models import METHOD_FAMILY, STATUS_RANK, Payment, PaymentEvent, PaymentStatus
from services.timeutil import as_utc, local_day, utcnow


@dataclass
class Observation:
    """What one gateway payload says about one payment attempt (all fields optional but the order id)."""

    merchant_order_id: str | None
    verified: bool
    source: str  # status | webhook | redirect | demo | link
    result: str | None = None
    gateway_status: str | None = None
    track_id: str | None = None
    upay_order_id: str | None = None
    payment_id: str | None = None
    invoice_id: str | None = None
    session_id: str | None = None
    reference: str | None = None
    method: str | None = None
    amount_fils: int | None = None
    currency: str | None = None
    transaction_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> PaymentStatus:
        return result_to_status(self.result, self.gateway_status)


def observation_from_transaction(tx: Any, *, source: str = "status") -> Observation:
    """A verified observation from the gateway client's ``Transaction`` (get-payment-status)."""
    return Observation(
        merchant_order_id=tx.merchant_order_id,
        verified=True,
        source=source,
        result=tx.result,
        gateway_status=getattr(tx, "status", None),
        track_id=tx.track_id,
        upay_order_id=tx.upay_order_id or getattr(tx, "refund_order_id", None),
        payment_id=tx.payment_id,
        invoice_id=getattr(tx, "invoice_id", None),
        session_id=getattr(tx, "session_id", None),
        reference=getattr(tx, "reference", None),
        method=tx.method,
        amount_fils=tx.amount_fils,
        currency=tx.currency,
        transaction_at=tx.transaction_at,
        raw=dict(tx.raw or {}),
    )


def observation_from_redirect(params: Any, *, source: str) -> Observation:
    """An unverified observation from redirect parameters or a webhook body (``RedirectParams``)."""
    return Observation(
        merchant_order_id=params.merchant_order_id,
        verified=False,
        source=source,
        result=params.result,
        track_id=params.track_id,
        upay_order_id=params.upay_order_id,
        payment_id=params.payment_id,
        invoice_id=params.invoice_id,
        method=params.method,
        transaction_at=params.transaction_at,
        raw=dict(params.raw or {}),
    )


@dataclass(frozen=True)
class UpsertResult:
    payment: Payment | None
    created: bool = False
    changed: bool = False
    status_before: str | None = None
    status_after: str | None = None
    problem: str | None = None  # why nothing was changed (mismatch, unknown order …)


def find_payment(session: Session, obs: Observation, known: Mapping[str, Payment] | None = None) -> Payment | None:
    """The local payment an observation is about: merchant order id, then track, session or invoice id.

    ``known``: payments of a batch already loaded in ``session``, by order id (saves one query each).
    """
    if obs.merchant_order_id and known is not None and obs.merchant_order_id in known:
        return known[obs.merchant_order_id]
    if obs.merchant_order_id:
        found = session.exec(select(Payment).where(col(Payment.order_id) == obs.merchant_order_id)).first()
        if found is not None:
            return found
    for column, value in (
        (Payment.track_id, obs.track_id),
        (Payment.session_id, obs.session_id),
        (Payment.invoice_id, obs.invoice_id),
    ):
        if value:
            found = session.exec(select(Payment).where(col(column) == value)).first()
            if found is not None:
                return found
    return None


def add_event(session: Session, payment_pk: int, kind: str, detail: dict[str, Any], actor: str | None = None,
              ) -> None:
    """Add a timeline entry for a payment in ``session``."""
    session.add(PaymentEvent(payment_pk=payment_pk, kind=kind, actor=actor, detail=json.dumps(detail, default=str)))


def _binding_problem(payment: Payment, obs: Observation) -> str | None:
    if obs.merchant_order_id and payment.order_id != obs.merchant_order_id:
        return f"gateway says order {obs.merchant_order_id}, cache has {payment.order_id}"
    if obs.amount_fils is not None and obs.amount_fils != payment.amount_fils:
        return f"gateway amount {obs.amount_fils} fils differs from {payment.amount_fils} fils"
    if obs.currency and obs.currency.upper() != payment.currency:
        return f"gateway currency {obs.currency} differs from {payment.currency}"
    return None


def _fill_missing(payment: Payment, obs: Observation) -> bool:
    changed = False
    for attr, value in (
        ("upay_order_id", obs.upay_order_id),
        ("invoice_id", obs.invoice_id),
        ("session_id", obs.session_id),
        ("reference", obs.reference),
    ):
        if value and getattr(payment, attr) is None:
            setattr(payment, attr, value)
            changed = True
    return changed


def _decides(payment: Payment, obs: Observation) -> bool:
    """Whether this observation's attempt should define the payment's status and attempt fields."""
    new_rank, old_rank = STATUS_RANK[obs.status], STATUS_RANK[payment.status]
    if new_rank != old_rank:
        return new_rank > old_rank
    if obs.status == payment.status and obs.track_id == payment.track_id:
        return obs.result is not None and payment.result is None
    if new_rank == 0:
        return payment.track_id is None and obs.track_id is not None
    previous = json.loads(payment.raw).get("_observed_at") if payment.raw else None
    current = as_utc(obs.transaction_at).isoformat() if obs.transaction_at else None
    return bool(current and (previous is None or current > previous))


def upsert(session: Session, obs: Observation, *, create_missing: bool = True,
           known: Mapping[str, Payment] | None = None) -> UpsertResult:
    """Apply one observation (the caller commits). Unverified observations never change a status.

    A new payment is flushed at once (it needs its id); changes to an existing one go out with the caller's next
    flush or commit, so a batch of observations is written together.
    """
    payment = find_payment(session, obs, known)
    if payment is None:
        if not (obs.verified and create_missing and obs.merchant_order_id and obs.amount_fils is not None):
            return UpsertResult(None, problem="no local payment matches this payload")
        at = as_utc(obs.transaction_at) if obs.transaction_at else utcnow()
        payment = Payment(
            order_id=obs.merchant_order_id,
            amount_fils=obs.amount_fils,
            currency=(obs.currency or "KWD").upper(),
            source="demo" if obs.source == "demo" else "gateway",
            created_at=at,
            local_day=local_day(at),
        )
        session.add(payment)
        session.flush()
        created = True
    else:
        created = False
    if not obs.verified:
        return UpsertResult(payment, created=False, status_before=payment.status, status_after=payment.status)
    problem = _binding_problem(payment, obs)
    if problem:
        add_event(session, payment.id or 0, "mismatch", {"source": obs.source, "problem": problem})
        return UpsertResult(payment, status_before=payment.status, status_after=payment.status, problem=problem)
    before = payment.status
    changed = _fill_missing(payment, obs) or created
    if created or _decides(payment, obs):
        changed = True
        payment.status = obs.status
        payment.result = obs.result
        if obs.track_id and obs.track_id != payment.track_id:
            clash = session.exec(select(Payment).where(col(Payment.track_id) == obs.track_id)).first()
            if clash is None or clash.id == payment.id:
                payment.track_id = obs.track_id
        payment.payment_id = obs.payment_id or payment.payment_id
        if obs.method:
            payment.method = obs.method
            payment.method_family = METHOD_FAMILY.get(obs.method)
        if obs.status == PaymentStatus.PAID:
            payment.paid_at = as_utc(obs.transaction_at) if obs.transaction_at else utcnow()
        raw = dict(obs.raw)
        raw["_observed_at"] = as_utc(obs.transaction_at).isoformat() if obs.transaction_at else None
        payment.raw = json.dumps(raw, default=str)
    now = utcnow()
    payment.verified_at = now
    if changed:
        payment.updated_at = now
    session.add(payment)
    if payment.status != before or created:
        add_event(session, payment.id or 0, "status", {
            "from": None if created else before, "to": payment.status, "source": obs.source, "result": obs.result,
            "track_id": obs.track_id})
    return UpsertResult(payment, created=created, changed=changed, status_before=None if created else before,
                        status_after=payment.status)
