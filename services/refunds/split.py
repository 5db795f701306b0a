"""Split-payment refunds (§11.2, §12.4–§12.5, §18 F4): per-vendor amounts, sent once, cancellable while initiated.

A refund requested on a payment charged with ``extraMerchantData`` comes back from create-refund as "needs per-vendor
split" (state ``needs_split``, nothing refunded, the gateway's ``refundPayload`` kept in ``split_payload``). Finance
then sets an amount per vendor, each within that vendor's ``remainingLimit`` and together within what was requested
(and approved). Sending follows the same exactly-once rules as a single refund (:mod:`services.refunds.ledger`): the
row moves to ``sending`` under the payment lock (so it is the one refund in flight), the sender wins
:func:`services.intents.claim`, ``create-multivendor-refund`` is called once, and an uncertain outcome is settled
from check-refund (:func:`services.refunds.settle.split_parts`: as many new elements as vendors asked for), never
by sending again. Vendors refused by the gateway (``insufficientBalance``, ``refundIssue``, ``dataTempered``) are
named in one sentence; if none was refunded the row goes back to ``needs_split``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from services import audit, inputs, intents
from services.db import read_session, session_scope
from services.gateway import SplitRefundEntry, SplitRefundNeeded, SplitRefundResult, UPaymentsClient, is_uncertain
from services.gateway import errors as gw
from services.models import Payment, Refund, RefundState
from services.money import format_money
from services.permissions import Action, Actor, authorize
from services.refund_state import state_phrase
from services.refunds.ledger import (
    COMMITTED,
    IN_FLIGHT,
    RESERVED,
    NotRefundable,
    OverRefund,
    RefundError,
    RefundInFlight,
    lock_payment,
    log,
    recompute_refunded,
    snapshot,
    sum_of,
    tally,
    target,
)
from services.sentence import N_, say
from services.timeutil import utcnow

#: What a refund on a split payment says until finance sets the per-vendor amounts.
SPLIT_NEEDED = ("This payment was split between vendors: UPayments refunded nothing and needs the amount to refund "
                "from each vendor; set them in the split-payment section.")
#: How long a twin waits for the sender's outcome.
TWIN_WAIT_SECONDS = 20.0


@dataclass(frozen=True)
class VendorShare:
    """One vendor of a split payment as the gateway listed it; amounts in minor units."""

    refund_request_id: str
    iban: str
    total_paid_fils: int
    refunded_fils: int
    remaining_fils: int


def split_payload_of(answer: SplitRefundNeeded) -> str:
    """What a ``needs_split`` refund keeps: the order id and the entries as received (amounts set later)."""
    return json.dumps({"order_id": answer.order_id, "entries": [e.raw for e in answer.entries], "amounts": {}},
                      default=str)


def _payload(refund: Refund) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(refund.split_payload or "{}")
    return data


def _entries(refund: Refund) -> list[SplitRefundEntry]:
    return [SplitRefundEntry.parse(e, refund.currency) for e in _payload(refund).get("entries", [])]


def vendor_shares(engine: Engine, actor: Actor, *, refund_id: int) -> list[VendorShare]:
    """The vendors of a refund waiting for its split (VIEW_REFUNDS); empty when it is not a split refund."""
    authorize(engine, actor, Action.VIEW_REFUNDS)
    inputs.row_id(refund_id, RefundError, N_("Refund"))
    with Session(engine) as session:
        refund = session.get(Refund, refund_id)
    if refund is None:
        raise RefundError(say("Refund #{id} was not found.", id=refund_id))
    return [VendorShare(e.refund_request_id, e.iban or "", e.total_paid_fils, e.refunded_fils, e.remaining_fils)
            for e in _entries(refund)]


def _check_amounts(refund: Refund, amounts: object) -> dict[str, int]:
    """Per-vendor amounts within each vendor's limit and, together, within the refund asked for."""
    entries = {e.refund_request_id: e for e in _entries(refund)}
    if not isinstance(amounts, dict) or not amounts:
        raise RefundError(say("Set the amount to refund from at least one vendor."))
    clean: dict[str, int] = {}
    for key, fils in amounts.items():
        entry = entries.get(key) if isinstance(key, str) else None
        if entry is None:
            raise RefundError(say("Vendor {value} is not part of this payment's split; reload the page.",
                                  value=inputs.shown(key)))
        if isinstance(fils, bool) or not isinstance(fils, int) or fils < 0:
            raise RefundError(say("Each vendor's amount must be zero or more."))
        if fils > entry.remaining_fils:
            raise RefundError(say("{amount} is more than the {left} still refundable from vendor {iban}.",
                                  amount=format_money(fils, refund.currency),
                                  left=format_money(entry.remaining_fils, refund.currency), iban=entry.iban))
        if fils:
            clean[key] = fils
    total = sum(clean.values())
    if total == 0:
        raise RefundError(say("Set the amount to refund from at least one vendor."))
    if total > refund.amount_fils:
        raise RefundError(say("The vendors' amounts add up to {total}, more than the {amount} this refund was "
                              "requested for.", total=format_money(total, refund.currency),
                              amount=format_money(refund.amount_fils, refund.currency)))
    return clean


def send_split_refund(engine: Engine, client: UPaymentsClient, actor: Actor, *, refund_id: int,
                      amounts: dict[str, int]) -> Refund:
    """Refund ``amounts`` (vendor refund request id → minor units) of a ``needs_split`` refund, exactly once.

    A double click or a second tab finds the row already ``sending`` and waits for that send's outcome.
    """
    actor = authorize(engine, actor, Action.REQUEST_REFUND)
    inputs.row_id(refund_id, RefundError, N_("Refund"))
    with session_scope(engine) as session:
        refund = session.get(Refund, refund_id)
        if refund is None:
            raise RefundError(say("Refund #{id} was not found.", id=refund_id))
        payment = lock_payment(session, refund.payment_pk)
        session.refresh(refund)
        if refund.state != RefundState.NEEDS_SPLIT:
            twin = refund.state in IN_FLIGHT or refund.state in (RefundState.INITIATED, RefundState.REFUNDED)
            if not twin:
                raise RefundError(say("Refund #{id} is {state}; it is not waiting for a split.", id=refund_id,
                                      state=state_phrase(refund.state)))
        else:
            twin = False
            clean = _check_amounts(refund, amounts)
            counts = tally(session, payment.id or 0)
            if sum(counts.get(s.value, (0, 0))[1] for s in IN_FLIGHT):
                raise RefundInFlight(say("A refund on this payment is being sent or its outcome is being checked; "
                                     "try again when it has settled."))
            if not payment.upay_order_id:
                raise NotRefundable(say("The gateway's order id of this payment is not known; re-sync it first."))
            # the over-refund rule of single refunds: within what is still refundable, checked under the lock
            left = payment.amount_fils - sum_of(counts, COMMITTED) - sum_of(counts, RESERVED)
            if sum(clean.values()) > left:
                raise OverRefund(say("{amount} is more than the {left} still refundable on payment {order}; nothing "
                                     "was sent.", amount=format_money(sum(clean.values()), refund.currency),
                                     left=format_money(max(left, 0), refund.currency), order=payment.order_id))
            before = snapshot(refund, payment)
            payload = _payload(refund) | {"amounts": clean}
            refund.split_payload = json.dumps(payload, default=str)
            refund.state, refund.amount_fils, refund.sent_at = RefundState.SENDING, sum(clean.values()), None
            refund.updated_at, refund.error = utcnow(), None
            session.add(refund)
            audit.record(session, actor=actor.email, action="refund_split_set", target=target(refund, payment),
                         before=before, after=snapshot(refund, payment) | {"amounts": clean})
    if twin:
        return _outcome(engine, refund_id)
    with session_scope(engine) as session:
        won = intents.claim(session, Refund, refund_id, state=RefundState.SENDING, marker="sent_at", now=utcnow())
    if not won:
        return _outcome(engine, refund_id)
    try:
        result = client.refunds.create_split(order_id=str(payload.get("order_id") or payment.upay_order_id),
                                             amounts=clean, entries=_entries(refund), currency=refund.currency)
    except gw.GatewayError as exc:
        if is_uncertain(exc):
            log.warning("split refund %s outcome uncertain: %s", refund_id, exc)
            return _record(engine, refund_id, RefundState.UNCERTAIN, "refund_uncertain",
                           error=f"The gateway's answer was lost ({type(exc).__name__}); the per-vendor refund is "
                                 "being checked with UPayments and will not be sent twice.")
        return _record(engine, refund_id, RefundState.NEEDS_SPLIT, "refund_failed",
                       error=f"UPayments refused the per-vendor refund ({exc}); nothing was refunded.")
    return _record_result(engine, refund_id, result)


def _outcome(engine: Engine, refund_id: int) -> Refund:
    def read() -> Refund:
        with read_session(engine) as session:
            row = session.get(Refund, refund_id)
            assert row is not None
            return row

    row, _settled = intents.await_outcome(read, lambda r: r.state == RefundState.SENDING, timeout=TWIN_WAIT_SECONDS)
    return row


def _refused_sentence(result: SplitRefundResult) -> str | None:
    parts = []
    for label, entries in (("not enough balance (the vendor must top up)", result.insufficient),
                           ("above the vendor's remaining limit", result.issues),
                           ("not matching UPayments' records", result.tempered)):
        ibans = [str(e.get("ibanNumber", "?")) for e in entries if isinstance(e, dict)]
        if ibans:
            parts.append(f"{', '.join(ibans)}: {label}")
    return ("UPayments refunded nothing from " + "; ".join(parts) + ".") if parts else None


def _record_result(engine: Engine, refund_id: int, result: SplitRefundResult) -> Refund:
    refused = _refused_sentence(result)
    if not result.generated:
        return _record(engine, refund_id, RefundState.NEEDS_SPLIT, "refund_failed",
                       error=refused or "UPayments made no per-vendor refund; nothing was refunded.")
    generated = [{"generated_invoice_id": g.generated_invoice_id, "order_id": g.order_id,
                  "refund_order_id": g.refund_order_id, "refund_arn": g.refund_arn, "amount_fils": g.amount_fils}
                 for g in result.generated]
    return _record(engine, refund_id, RefundState.INITIATED, "refund_sent", error=refused,
                   generated=json.dumps(generated))


def _record(engine: Engine, refund_id: int, state: RefundState, action: str, *, error: str | None = None,
            generated: str | None = None) -> Refund:
    with session_scope(engine) as session:
        refund = session.get(Refund, refund_id)
        assert refund is not None
        payment: Payment = lock_payment(session, refund.payment_pk)
        session.refresh(refund)
        if refund.state != RefundState.SENDING:
            log.warning("split refund %s already %s; outcome %s not recorded", refund_id, refund.state, state)
            return refund
        before = snapshot(refund, payment)
        now = utcnow()
        refund.state, refund.updated_at, refund.error = state, now, error
        if generated is not None:
            refund.split_generated = generated
            made = [g.get("amount_fils") for g in json.loads(generated)]
            if all(isinstance(f, int) for f in made):
                refund.amount_fils = sum(made)  # vendors the gateway refused are not part of it
        if state == RefundState.NEEDS_SPLIT:
            refund.sent_at = None
        session.add(refund)
        session.flush()
        recompute_refunded(session, payment)
        who = refund.approved_by or refund.requested_by
        audit.record(session, actor=who, action=action, target=target(refund, payment), before=before,
                     after=snapshot(refund, payment) | {"split_generated": generated})
    return refund


def cancel_split(engine: Engine, client: UPaymentsClient, actor_email: str, refund_id: int) -> Refund:
    """Delete every per-vendor refund of an initiated split refund (``delete-multivendor-refund``).

    Each vendor's refund is deleted once and marked so; if one cannot be deleted (already executed, or the
    answer was lost), the row stays initiated with what is left, and the sentence says which.
    """
    with Session(engine) as session:
        refund = session.get(Refund, refund_id)
    assert refund is not None and refund.split_generated
    parts = json.loads(refund.split_generated)
    problem: str | None = None
    for part in parts:
        if part.get("deleted"):
            continue
        if not part.get("generated_invoice_id") or not part.get("order_id") or not part.get("refund_order_id"):
            problem = (f"The per-vendor refund {part.get('order_id') or '?'} was confirmed from check-refund "
                       "without its invoice id; cancel it in the UPayments portal.")
            break
        try:
            client.refunds.delete_split(generated_invoice_id=part["generated_invoice_id"], order_id=part["order_id"],
                                        refund_order_id=part["refund_order_id"], refund_arn=part.get("refund_arn"))
        except gw.GatewayError as exc:
            problem = (f"UPayments did not cancel the per-vendor refund {part['order_id']} ({exc}); it may already "
                       "have been executed. Click “Refresh statuses”.")
            break
        part["deleted"] = True
    with session_scope(engine) as session:
        current = session.get(Refund, refund_id)
        assert current is not None
        payment = lock_payment(session, current.payment_pk)
        session.refresh(current)
        before = snapshot(current, payment)
        current.split_generated = json.dumps(parts)
        left = [p for p in parts if not p.get("deleted")]
        if not left:
            current.state, current.error = RefundState.CANCELLED, f"Cancelled by {actor_email} before it was executed."
        else:
            amounts = [p.get("amount_fils") for p in left]
            if all(isinstance(a, int) for a in amounts):
                current.amount_fils = sum(amounts)
            current.error = problem
        current.updated_at = utcnow()
        session.add(current)
        session.flush()
        recompute_refunded(session, payment)
        audit.record(session, actor=actor_email, action="refund_cancelled", target=target(current, payment),
                     before=before, after=snapshot(current, payment) | {"split_generated": current.split_generated})
    if problem is not None and left:
        raise RefundError(problem)
    return current
