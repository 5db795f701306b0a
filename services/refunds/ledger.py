"""Shared parts of the refund services: domain errors, states, the locked tally, audit snapshots, the crash hook.

Exactly-once rests on three rules kept here and in :mod:`services.refunds`:

1. The intent row (state ``sending``) is written in the same transaction that checks the refundable amount, with
   the payment row locked (``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR UPDATE`` on PostgreSQL).
2. At most ONE refund per payment is in flight (``sending``/``uncertain``). UPayments' check-refund lists one
   element per refund but carries no amount, so with a single unconfirmed intent "the gateway lists a refund we
   have not confirmed" identifies it unambiguously (:mod:`services.refunds.settle`).
3. An uncertain outcome is settled by asking the gateway (check-refund), never by sending again.
"""

from __future__ import annotations

import logging
import os
from datetime import date, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from services import refund_state
from services.models import METHOD_FAMILY, Payment, Refund, RefundState
from services.money import format_amount
from services.permissions import SYSTEM as SYSTEM_ACTOR
from services.refund_state import refund_status
from services.sentence import N_, say
from services.timeutil import add_working_days, to_kuwait

log = logging.getLogger("services.refunds")

#: Why a refund is made; ``other`` needs a note.
REASONS: dict[str, str] = {
    "customer_request": N_("Customer request"),
    "duplicate": N_("Duplicate payment"),
    "item_unavailable": N_("Item unavailable"),
    "suspected_fraud": N_("Suspected fraud"),
    "other": N_("Other"),
}
#: States whose amount is already committed at the gateway (counted in ``Payment.refunded_fils``).
COMMITTED = frozenset(RefundState(s) for s in refund_state.COUNTED)
#: States where a gateway call is under way or its outcome is unknown: at most one per payment.
IN_FLIGHT = frozenset({RefundState.SENDING, RefundState.UNCERTAIN})
#: States whose amount is reserved (not yet committed, but counted against the refundable amount).
RESERVED = frozenset(RefundState(s) for s in refund_state.PENDING)
#: Audit actor for changes made by background tracking/settling rather than a person.
SYSTEM = SYSTEM_ACTOR.email
#: Working days until the customer sees the money (contract §12.1): KNET 1, cards and wallets up to 10.
ARRIVAL_WORKING_DAYS = {"knet": 1, "card": 10, "wallet": 10}
MAX_NOTE = 500
MAX_KEY = 64

#: Test-only crash hook: when this environment variable names a point, the process dies there (os._exit).
CRASH_ENV = "SOUQ_TEST_REFUND_CRASH_AT"
CRASH_AFTER_INTENT = "after_intent"
CRASH_AFTER_GATEWAY = "after_gateway"


class RefundError(ValueError):
    """A refund action that is refused; ``str()`` is one sentence saying why and what to do."""


class NotRefundable(RefundError):
    """The payment cannot be refunded (not paid, no gateway order id, nothing left)."""


class OverRefund(RefundError):
    """The amount is more than what is still refundable."""


class RefundInFlight(RefundError):
    """Another refund on the same payment is being sent or its outcome is being settled."""


class ApprovalError(RefundError):
    """Approval rules: requester approving their own, or the request is no longer waiting."""


def crash_point(name: str) -> None:
    """Die here (as a crash would) when the test-only environment variable names this point."""
    if os.environ.get(CRASH_ENV) == name:
        logging.shutdown()
        os._exit(77)


def expected_arrival(method: str | None, initiated_at: datetime) -> date:
    """When the customer should see the money: KNET about 1 working day, cards and wallets up to 10 (Sun–Thu)."""
    family = METHOD_FAMILY.get(method or "", "card")
    return add_working_days(to_kuwait(initiated_at).date(), ARRIVAL_WORKING_DAYS[family])


def lock_payment(session: Session, payment_pk: int) -> Payment:
    """The payment row, locked for this transaction (FOR UPDATE on PostgreSQL; SQLite already holds the lock)."""
    payment = session.exec(select(Payment).where(col(Payment.id) == payment_pk).with_for_update()).first()
    if payment is None:
        raise NotRefundable(say("Payment #{id} was not found.", id=payment_pk))
    return payment


def tally(session: Session, payment_pk: int) -> dict[str, tuple[int, int]]:
    """state → (sum of amounts, count) of the payment's refunds."""
    rows = session.exec(
        select(Refund.state, func.sum(Refund.amount_fils), func.count())
        .where(col(Refund.payment_pk) == payment_pk)
        .group_by(Refund.state)
    ).all()
    return {str(state): (int(total or 0), int(count)) for state, total, count in rows}


def sum_of(counts: dict[str, tuple[int, int]], states: frozenset[RefundState]) -> int:
    return sum(counts.get(s.value, (0, 0))[0] for s in states)


def recompute_refunded(session: Session, payment: Payment) -> None:
    """Keep ``Payment.refunded_fils``, ``refund_state`` and ``refund_pending_fils`` equal to what the ledger says
    (same transaction; the rule is :mod:`services.refund_state`)."""
    counts = tally(session, payment.id or 0)
    payment.refunded_fils = sum_of(counts, COMMITTED)
    payment.refund_pending_fils = sum_of(counts, RESERVED)
    status = refund_status(payment.status, payment.amount_fils, payment.refunded_fils)
    payment.refund_state = status.value if status is not None else None
    session.add(payment)


def snapshot(refund: Refund, payment: Payment | None = None) -> dict[str, Any]:
    """What the audit log keeps about a refund (before/after)."""
    data: dict[str, Any] = {
        "id": refund.id,
        "state": refund.state,
        "amount": format_amount(refund.amount_fils, refund.currency),
        "amount_fils": refund.amount_fils,
        "currency": refund.currency,
        "reason": refund.reason,
        "note": refund.note,
        "requested_by": refund.requested_by,
        "approved_by": refund.approved_by,
        "gateway_order_id": refund.gateway_order_id,
        "gateway_refund_order_id": refund.gateway_refund_order_id,
        "gateway_refund_arn": refund.gateway_refund_arn,
        "error": refund.error,
    }
    if payment is not None:
        data["order_id"] = payment.order_id
        data["payment_refunded_fils"] = payment.refunded_fils
    return data


def target(refund: Refund, payment: Payment) -> str:
    """Audit target: searchable by refund id and by order id."""
    return f"refund:{refund.id} order:{payment.order_id}"
