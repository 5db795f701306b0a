"""Refunds: request (with approval above a threshold), approve, reject, cancel — each exactly once.

Flow of one refund: the intent row is written (``sending``, or ``pending_approval`` above the threshold) in the
transaction that checks the refundable amount; then ``create-refund`` is called with our idempotency key as the
``reference``; then the outcome is recorded (``initiated`` with the gateway's ids, ``failed`` with one sentence,
or ``uncertain`` when the call may have reached the gateway). Uncertain intents are settled by
:func:`services.refunds.settle.settle_uncertain` from check-refund, never by sending again. See
:mod:`services.refunds.ledger` for the one-in-flight rule that makes settling unambiguous.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from services import audit, inputs, intents, policy
from services.db import read_session, session_scope
from services.gateway import SplitRefundNeeded, UPaymentsClient, is_uncertain
from services.gateway import errors as gw
from services.gateway.sentences import staff_sentence
from services.models import Payment, PaymentStatus, Refund, RefundState
from services.money import MAX_MAJOR_UNITS, exponent, format_money
from services.permissions import SYSTEM as SYSTEM_ACTOR
from services.permissions import Action, Actor, authorize
from services.refund_state import state_phrase
from services.refunds.ledger import (
    COMMITTED,
    CRASH_AFTER_GATEWAY,
    CRASH_AFTER_INTENT,
    IN_FLIGHT,
    MAX_KEY,
    MAX_NOTE,
    REASONS,
    RESERVED,
    SYSTEM,
    ApprovalError,
    NotRefundable,
    OverRefund,
    RefundError,
    RefundInFlight,
    crash_point,
    lock_payment,
    log,
    recompute_refunded,
    snapshot,
    sum_of,
    tally,
    target,
)
from services.refunds.settle import (
    at_gateway,
    identifiable,
    matches,
    refresh_refunds,
    refund_id_in,
    settle_uncertain,
)
from services.refunds.split import SPLIT_NEEDED, cancel_split, split_payload_of
from services.sentence import N_, Sentence, listing, say
from services.timeutil import as_utc, local_day, utcnow

#: Tries to write a call's outcome before leaving it to settle_uncertain.
RECORD_ATTEMPTS = 3
#: How long a twin waits for the sender's outcome (longer than a create-refund call may take), counted from
#: the intent's last change: a twin of an intent orphaned by a crash does not wait at all.
TWIN_WAIT_SECONDS = 20.0
#: Why a payment that is not paid cannot be refunded, by its status (whole sentences, so they translate).
_STATUS_WORDS: dict[str, str] = {
    PaymentStatus.PENDING: N_("Payment {order} is still awaiting payment; only paid payments can be refunded."),
    PaymentStatus.FAILED: N_("Payment {order} failed; only paid payments can be refunded."),
    PaymentStatus.CANCELLED: N_("Payment {order} was cancelled by the payer; only paid payments can be refunded."),
    PaymentStatus.EXPIRED: N_("Payment {order} expired unpaid; only paid payments can be refunded."),
}


@dataclass(frozen=True)
class RefundSummary:
    """How much of a payment can still be refunded, and why not when it can't."""

    payment_pk: int
    order_id: str
    captured_fils: int
    refunded_fils: int
    """Committed at the gateway (initiated or refunded)."""
    completed_fils: int
    """Executed by the gateway (refunded): the part of ``refunded_fils`` already on its way to the customer."""
    pending_fils: int
    """Reserved: awaiting approval, being sent, or outcome being settled."""
    refundable_fils: int
    currency: str
    method: str | None
    customer_name: str | None
    can_refund: bool
    reason_not: Sentence | None
    in_flight: bool

    @property
    def outstanding_fils(self) -> int:
        """Asked for but not executed yet: initiated (still cancellable), awaiting approval, or being sent."""
        return self.refunded_fils - self.completed_fils + self.pending_fils


def _summarise(session: Session, payment: Payment) -> RefundSummary:
    counts = tally(session, payment.id or 0)
    refunded = sum_of(counts, COMMITTED)
    pending = sum_of(counts, RESERVED)
    in_flight = sum(counts.get(s.value, (0, 0))[1] for s in IN_FLIGHT) > 0
    captured = payment.amount_fils if payment.status == PaymentStatus.PAID else 0
    refundable = max(0, captured - refunded - pending)
    reason: Sentence | None = None
    if payment.status != PaymentStatus.PAID:
        template = _STATUS_WORDS.get(payment.status, N_("Payment {order} is {status}; only paid payments can be "
                                                        "refunded."))
        reason = Sentence(template, {"order": payment.order_id, "status": payment.status})
    elif not payment.upay_order_id:
        reason = say("The gateway's order id of payment {order} is not known yet; re-sync the payment from the "
                     "transactions page before refunding.", order=payment.order_id)
    elif in_flight:
        reason = say("A refund on this payment is being sent or its outcome is being checked; click "
                     "“Refresh statuses” and try again when it has settled.")
    elif refundable == 0 and pending:
        reason = say("The rest of this payment is reserved by refunds awaiting approval.")
    elif refundable == 0:
        reason = say("This payment has already been refunded in full.")
    return RefundSummary(
        payment_pk=payment.id or 0, order_id=payment.order_id, captured_fils=captured, refunded_fils=refunded,
        completed_fils=sum_of(counts, frozenset({RefundState.REFUNDED})), pending_fils=pending,
        refundable_fils=refundable, currency=payment.currency, method=payment.method,
        customer_name=payment.customer_name, can_refund=reason is None, reason_not=reason, in_flight=in_flight,
    )


def _sendable(session: Session, payment: Payment, cannot: Sentence) -> RefundSummary:
    """The payment's summary; raises when no refund may be sent on it now (``cannot``: the fallback sentence)."""
    summary = _summarise(session, payment)
    if summary.in_flight:
        raise RefundInFlight(summary.reason_not or say("Another refund on this payment is being sent."))
    if payment.status != PaymentStatus.PAID or not payment.upay_order_id:
        raise NotRefundable(summary.reason_not or cannot)
    return summary


def refund_summary(engine: Engine, *, payment_pk: int, actor: Actor | None = None) -> RefundSummary:
    """Captured / refunded / pending / refundable amounts of a payment (checks VIEW_REFUNDS when given an actor)."""
    if actor is not None:
        actor = authorize(engine, actor, Action.VIEW_REFUNDS)
    inputs.row_id(payment_pk, NotRefundable, N_("Payment"))
    with Session(engine) as session:
        payment = session.get(Payment, payment_pk)
        if payment is None:
            raise NotRefundable(say("Payment #{id} was not found.", id=payment_pk))
        return _summarise(session, payment)


def get_refund(engine: Engine, actor: Actor, *, refund_id: int) -> Refund:
    """One refund by id (VIEW_REFUNDS)."""
    actor = authorize(engine, actor, Action.VIEW_REFUNDS)
    inputs.row_id(refund_id, RefundError, N_("Refund"))
    with Session(engine) as session:
        refund = session.get(Refund, refund_id)
    if refund is None:
        raise RefundError(say("Refund #{id} was not found.", id=refund_id))
    return refund


def approval_threshold_fils() -> int:
    """Refunds above this many fils need a second person's approval (the shop's policy, set from settings)."""
    return policy.current().refund_approval_threshold_fils


#: Largest refund amount we accept at all (the money parser's limit); larger is refused before any look-up.
MAX_REFUND_FILS = int(MAX_MAJOR_UNITS.scaleb(exponent("KWD")))


def _validate(payment_pk: object, amount_fils: object, reason: object, note: object,
              idempotency_key: object) -> str | None:
    """Refuse bad input with one sentence before anything is read or written; returns the cleaned note."""
    inputs.row_id(payment_pk, NotRefundable, N_("Payment"))
    if isinstance(amount_fils, bool) or not isinstance(amount_fils, int) or amount_fils <= 0:
        raise RefundError(say("The refund amount must be more than zero."))
    if amount_fils > MAX_REFUND_FILS:
        raise RefundError(say("The refund amount is above the limit of {limit}.", limit=format_money(MAX_REFUND_FILS)))
    if not isinstance(reason, str) or reason not in REASONS:
        raise RefundError(say("Unknown refund reason {value}; choose one of: {choices}.", value=inputs.shown(reason),
                              choices=listing(REASONS.values())))
    cleaned = inputs.text(note, RefundError, N_("note"), max_len=MAX_NOTE, multiline=True) or None
    if reason == "other" and not cleaned:
        raise RefundError(say("Please write a note saying why when the reason is “Other”."))
    key = inputs.bad_text(idempotency_key, N_("request key"), max_len=MAX_KEY)
    if key or not idempotency_key or not isinstance(idempotency_key, str) or not idempotency_key.strip():
        raise RefundError(say("The refund form lost its request key; reload the page and try again."))
    return cleaned


def _existing(session: Session, key: str, payment_pk: int, amount_fils: int) -> Refund | None:
    found = session.exec(select(Refund).where(col(Refund.idempotency_key) == key)).first()
    if found is not None and (found.payment_pk != payment_pk or found.amount_fils != amount_fils):
        raise RefundError(say("This refund form was already submitted with other details; reload the page to start "
                          "a new refund."))
    return found


def request_refund(
    engine: Engine,
    client: UPaymentsClient,
    actor: Actor,
    *,
    payment_pk: int,
    amount_fils: int,
    reason: str,
    note: str | None = None,
    idempotency_key: str,
) -> Refund:
    """Refund ``amount_fils`` of a paid payment once; above the shop's approval threshold (:mod:`services.policy`,
    never the caller's choice) it waits for another person's approval.

    A rerun or double click with the same ``idempotency_key`` returns the existing refund and calls nothing.
    """
    actor = authorize(engine, actor, Action.REQUEST_REFUND)
    cleaned_note = _validate(payment_pk, amount_fils, reason, note, idempotency_key)
    threshold_fils = approval_threshold_fils()
    with Session(engine) as session:
        found = _existing(session, idempotency_key, payment_pk, amount_fils)
    if found is not None:
        return _twin_outcome(engine, found)
    if _has_uncertain(engine, payment_pk):
        settle_uncertain(engine, client, actor=SYSTEM_ACTOR, payment_pk=payment_pk)  # settle BEFORE sending again
    try:
        refund, created = _write_intent(engine, actor, payment_pk, amount_fils, reason, cleaned_note,
                                        idempotency_key, threshold_fils)
    except IntegrityError:  # same key inserted concurrently (PostgreSQL); the other request owns it
        with Session(engine) as session:
            found = _existing(session, idempotency_key, payment_pk, amount_fils)
        if found is None:
            raise
        return _twin_outcome(engine, found)
    if not created:
        return _twin_outcome(engine, refund)  # a racing twin wrote it: that one sends, never this one
    if refund.state != RefundState.SENDING:
        return refund
    return _send(engine, client, refund.id or 0)


def _twin_outcome(engine: Engine, refund: Refund) -> Refund:
    """What a twin returns: the sender's outcome once recorded, or the row as it is after a bounded wait."""
    if refund.state != RefundState.SENDING:
        return refund
    age = (utcnow() - as_utc(refund.updated_at)).total_seconds()
    refund_id = refund.id or 0

    def read() -> Refund:
        with read_session(engine) as session:
            return session.get(Refund, refund_id) or refund

    def sending(row: Refund) -> bool:
        return row.state == RefundState.SENDING

    current, settled = intents.await_outcome(read, sending, timeout=TWIN_WAIT_SECONDS - age)
    if not settled:
        log.info("refund %s is still being sent by another request; not waiting any longer", refund_id)
    return current


def _has_uncertain(engine: Engine, payment_pk: int) -> bool:
    with Session(engine) as session:
        return session.exec(select(Refund.id).where(col(Refund.payment_pk) == payment_pk,
                                                    col(Refund.state) == RefundState.UNCERTAIN)).first() is not None


def _write_intent(
    engine: Engine, actor: Actor, payment_pk: int, amount_fils: int, reason: str, note: str | None, key: str,
    threshold_fils: int,
) -> tuple[Refund, bool]:
    """The intent row and whether this call created it (False: a racing twin wrote it first, under the lock)."""
    with session_scope(engine) as session:
        payment = lock_payment(session, payment_pk)
        found = _existing(session, key, payment_pk, amount_fils)  # re-read under the lock: a racing twin
        if found is not None:
            return found, False
        summary = _sendable(session, payment, say("This payment cannot be refunded."))
        if amount_fils > summary.refundable_fils:
            raise OverRefund(say(
                "{amount} is more than the {left} still refundable on payment {order}; nothing was sent.",
                amount=format_money(amount_fils, payment.currency),
                left=format_money(summary.refundable_fils, payment.currency), order=payment.order_id))
        now = utcnow()
        needs_approval = amount_fils > threshold_fils
        refund = Refund(
            payment_pk=payment_pk, idempotency_key=key, amount_fils=amount_fils, currency=payment.currency,
            reason=reason, note=note, requested_by=actor.email, created_at=now, local_day=local_day(now),
            updated_at=now, state=RefundState.PENDING_APPROVAL if needs_approval else RefundState.SENDING,
        )
        session.add(refund)
        session.flush()
        recompute_refunded(session, payment)  # the reserved amount shows as pending on the payment
        audit.record(session, actor=actor.email, action="refund_requested", target=target(refund, payment),
                     before={"refundable_fils": summary.refundable_fils, "refunded_fils": summary.refunded_fils},
                     after=snapshot(refund, payment) | {"needs_approval": needs_approval,
                                                         "threshold_fils": threshold_fils})
    log.info("refund %s intent %s on %s: %s fils", refund.id, refund.state, payment.order_id, amount_fils)
    return refund, True


def _mobile(phone: str | None) -> str | None:
    """customerMobileNumber allows 10 characters: Kuwaiti numbers go without the +965 prefix."""
    digits = re.sub(r"\D", "", phone or "")
    if digits.startswith("965") and len(digits) == 11:
        digits = digits[3:]
    return digits if 0 < len(digits) <= 10 else None


def _send(engine: Engine, client: UPaymentsClient, refund_id: int) -> Refund:
    """Claim an intent in ``sending`` and, if this call won the claim, call create-refund and record the outcome.

    A caller that loses the claim (a twin; see :mod:`services.intents`) calls nothing and returns the outcome.
    """
    with Session(engine) as session:
        refund = session.get(Refund, refund_id)
        payment = session.get(Payment, refund.payment_pk) if refund else None
    if refund is None or payment is None or refund.state == RefundState.PENDING_APPROVAL:
        raise RefundError(say("Refund #{id} is not ready to be sent.", id=refund_id))
    if refund.state != RefundState.SENDING:
        return refund  # a late twin: the one that sent it has recorded the outcome
    crash_point(CRASH_AFTER_INTENT)
    with session_scope(engine) as session:
        won = intents.claim(session, Refund, refund_id, state=RefundState.SENDING, marker="sent_at", now=utcnow())
    if not won:
        log.info("refund %s is already being sent; waiting for that call's outcome", refund_id)
        return _twin_outcome(engine, refund)
    try:
        created = client.refunds.create(
            order_id=payment.upay_order_id or "", amount_fils=refund.amount_fils, currency=refund.currency,
            reference=refund.idempotency_key, customer_name=payment.customer_name,
            customer_email=payment.customer_email, customer_mobile=_mobile(payment.customer_phone),
        )
    except gw.GatewayError as exc:
        if is_uncertain(exc):
            log.warning("refund %s outcome uncertain: %s", refund_id, exc)
            return _record(engine, refund_id, RefundState.UNCERTAIN, "refund_uncertain",
                           error=f"The gateway's answer was lost ({type(exc).__name__}); the refund is being "
                                 "checked with UPayments and will not be sent twice.")
        log.info("refund %s refused by the gateway: %s", refund_id, exc)
        return _record(engine, refund_id, RefundState.FAILED, "refund_failed", error=_refusal_sentence(exc))
    except Exception:
        _record(engine, refund_id, RefundState.UNCERTAIN, "refund_uncertain",
                error="The refund call broke off unexpectedly; it is being checked with UPayments.")
        raise
    crash_point(CRASH_AFTER_GATEWAY)
    if isinstance(created, SplitRefundNeeded):  # §18 F4: nothing was refunded; finance sets per-vendor amounts
        log.info("refund %s is on a split payment: per-vendor amounts needed", refund_id)
        return _record(engine, refund_id, RefundState.NEEDS_SPLIT, "refund_needs_split",
                       error=SPLIT_NEEDED, split_payload=split_payload_of(created))
    return _record(engine, refund_id, RefundState.INITIATED, "refund_sent", gateway_order_id=created.order_id,
                   refund_order_id=created.refund_order_id, refund_arn=created.refund_arn)


def _refusal_sentence(exc: gw.GatewayError) -> Sentence:
    return staff_sentence(exc, refused=N_("the refund"), kept=N_("nothing was refunded"))


def _record(engine: Engine, refund_id: int, state: RefundState, action: str, **outcome: str | None) -> Refund:
    """Write the outcome of a create-refund call; a transient database conflict is retried, never the call."""
    for attempt in range(RECORD_ATTEMPTS):
        try:
            return _record_once(engine, refund_id, state, action, **outcome)
        except (IntegrityError, OperationalError) as exc:
            # e.g. two audit rows racing for the next seq on PostgreSQL; if it keeps failing the intent stays
            # `sending` and settle_uncertain records it from the gateway later.
            if attempt == RECORD_ATTEMPTS - 1:
                raise
            log.warning("refund %s: recording the outcome conflicted (%s); retrying", refund_id, type(exc).__name__)
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _record_once(
    engine: Engine, refund_id: int, state: RefundState, action: str, *, error: str | None = None,
    gateway_order_id: str | None = None, refund_order_id: str | None = None, refund_arn: str | None = None,
    split_payload: str | None = None,
) -> Refund:
    with session_scope(engine) as session:
        refund = session.get(Refund, refund_id)
        assert refund is not None
        payment = lock_payment(session, refund.payment_pk)
        session.refresh(refund)
        if refund.state != RefundState.SENDING:
            if state != RefundState.INITIATED or refund.state in COMMITTED:
                log.warning("refund %s already %s; outcome %s not recorded", refund_id, refund.state, state)
                return refund
            # The gateway made it, though a settle gave up on it meanwhile: the gateway's answer wins.
            log.error("refund %s was %s but the gateway accepted it; recording it as initiated", refund_id,
                      refund.state)
        before = snapshot(refund, payment)
        now = utcnow()
        refund.state, refund.updated_at = state, now
        refund.error = error
        if state == RefundState.INITIATED:
            refund.gateway_order_id, refund.gateway_refund_order_id = gateway_order_id, refund_order_id
            refund.gateway_refund_arn, refund.sent_at = refund_arn, refund.sent_at or now
        elif state in (RefundState.FAILED, RefundState.NEEDS_SPLIT):
            refund.sent_at = None  # nothing was refunded (the claim is spent with the state)
        if split_payload is not None:
            refund.split_payload = split_payload
        session.add(refund)
        session.flush()
        recompute_refunded(session, payment)
        who = SYSTEM if state == RefundState.UNCERTAIN else (refund.approved_by or refund.requested_by)
        audit.record(session, actor=who, action=action, target=target(refund, payment), before=before,
                     after=snapshot(refund, payment))
    return refund


def _lock(session: Session, refund_id: int) -> tuple[Refund, Payment]:
    """A refund and its payment, the payment row locked (the refund re-read under the lock) for a decision."""
    refund = session.get(Refund, refund_id)
    if refund is None:
        raise RefundError(say("Refund #{id} was not found.", id=refund_id))
    payment = lock_payment(session, refund.payment_pk)
    session.refresh(refund)
    return refund, payment


def approve_refund(engine: Engine, client: UPaymentsClient, actor: Actor, *, refund_id: int) -> Refund:
    """Approve a refund awaiting approval (not one's own) and send it; a repeat by the same approver sends nothing.

    The approver whose transaction moves the refund into ``sending`` is the one that sends it (services.intents).
    """
    actor = authorize(engine, actor, Action.APPROVE_REFUND)
    inputs.row_id(refund_id, RefundError, N_("Refund"))
    with session_scope(engine) as session:
        refund, payment = _lock(session, refund_id)
        if refund.state != RefundState.PENDING_APPROVAL:
            if refund.approved_by != actor.email or refund.state == RefundState.REJECTED:
                raise ApprovalError(say("Refund #{id} is no longer waiting for approval (it is {state}).",
                                        id=refund_id, state=state_phrase(refund.state)))
            twin = True  # double click on Approve: the first click sends; wait for it outside this transaction
        elif refund.requested_by == actor.email:
            raise ApprovalError(say("You can't approve your own refund request; another finance or admin person must "
                                "approve it."))
        else:
            twin = False
            _sendable(session, payment, say("This payment can no longer be refunded."))
            # No amount check here: the request's amount has been reserved since it was written, so approving
            # cannot over-commit (every other request was checked against a total that included it).
            before = snapshot(refund, payment)
            now = utcnow()
            refund.state, refund.approved_by, refund.decided_at, refund.updated_at = (
                RefundState.SENDING, actor.email, now, now)
            session.add(refund)
            audit.record(session, actor=actor.email, action="refund_approved", target=target(refund, payment),
                         before=before, after=snapshot(refund, payment))
    if twin:
        return _twin_outcome(engine, refund)
    return _send(engine, client, refund_id)


def reject_refund(engine: Engine, actor: Actor, *, refund_id: int, note: str) -> Refund:
    """Reject a refund awaiting approval (another person than the requester; a note is required)."""
    actor = authorize(engine, actor, Action.APPROVE_REFUND)
    inputs.row_id(refund_id, RefundError, N_("Refund"))
    cleaned = inputs.text(note, ApprovalError, N_("reason for rejecting"), max_len=MAX_NOTE, multiline=True)
    if not cleaned:
        raise ApprovalError(say("Please write why the refund is rejected."))
    with session_scope(engine) as session:
        refund, payment = _lock(session, refund_id)
        if refund.state != RefundState.PENDING_APPROVAL:
            raise ApprovalError(say("Refund #{id} is no longer waiting for approval (it is {state}).",
                                    id=refund_id, state=state_phrase(refund.state)))
        if refund.requested_by == actor.email:
            raise ApprovalError(say("You can't decide your own refund request; cancel it instead, or ask another "
                                "finance or admin person."))
        before = snapshot(refund, payment)
        now = utcnow()
        refund.state, refund.approved_by, refund.decided_at, refund.updated_at = (
            RefundState.REJECTED, actor.email, now, now)
        refund.error = f"Rejected by {actor.email}: {cleaned[:MAX_NOTE]}"
        session.add(refund)
        session.flush()
        recompute_refunded(session, payment)
        audit.record(session, actor=actor.email, action="refund_rejected", target=target(refund, payment),
                     before=before, after=snapshot(refund, payment))
    return refund


def cancel_refund(engine: Engine, client: UPaymentsClient, actor: Actor, *, refund_id: int) -> Refund:
    """Withdraw a request awaiting approval, or delete an initiated refund at the gateway before it is executed."""
    actor = authorize(engine, actor, Action.CANCEL_REFUND)
    inputs.row_id(refund_id, RefundError, N_("Refund"))
    with session_scope(engine) as session:
        refund, payment = _lock(session, refund_id)
        if refund.state == RefundState.CANCELLED:
            return refund  # double click
        if refund.state == RefundState.PENDING_APPROVAL:
            return _mark_cancelled(session, refund, payment, actor, f"Withdrawn by {actor.email} before approval.")
        if refund.state == RefundState.NEEDS_SPLIT:  # nothing was refunded: withdrawing it calls nothing
            return _mark_cancelled(session, refund, payment, actor,
                                   f"Withdrawn by {actor.email} before the per-vendor amounts were set.")
        if refund.state != RefundState.INITIATED:
            raise RefundError(say("Refund #{id} is {state}; only a refund that is initiated and not yet executed "
                                  "can be cancelled.", id=refund_id, state=state_phrase(refund.state)))
        split = bool(refund.split_generated)
        # create-refund's answer is stored at send time; a refund settled from check-refund has only its own
        # orderId, which ends with its refundOrderId (§18 F3)
        refund_order_id = refund.gateway_refund_order_id or refund_id_in(refund.gateway_order_id)
        if not split and (not refund.gateway_order_id or not refund_order_id):
            raise RefundError(say("Refund #{id} has no gateway refund id, so it cannot be cancelled here.",
                                  id=refund_id))
        upay_order_id = payment.upay_order_id
    if split:
        return cancel_split(engine, client, actor.email, refund_id)
    try:
        client.refunds.delete(order_id=refund.gateway_order_id or "", refund_order_id=refund_order_id or "")
    except gw.GatewayError as exc:
        # Deleted refunds drop out of check-refund: if ours is gone, the delete took effect (now or before).
        if not _deleted_at_gateway(engine, client, upay_order_id, refund):
            _cancel_refused(engine, client, refund, exc)
    with session_scope(engine) as session:
        payment = lock_payment(session, refund.payment_pk)
        current = session.get(Refund, refund_id)
        assert current is not None
        if current.state != RefundState.INITIATED:
            return current  # a concurrent cancel or refresh got there first
        return _mark_cancelled(session, current, payment, actor,
                               f"Cancelled by {actor.email} before it was executed.")


def _mark_cancelled(session: Session, refund: Refund, payment: Payment, actor: Actor, why: str) -> Refund:
    """Record a cancel (the payment row locked by the caller): state, reason, the payment's totals, the audit row."""
    before = snapshot(refund, payment)
    refund.state, refund.updated_at, refund.error = RefundState.CANCELLED, utcnow(), why
    session.add(refund)
    session.flush()
    recompute_refunded(session, payment)
    audit.record(session, actor=actor.email, action="refund_cancelled", target=target(refund, payment),
                 before=before, after=snapshot(refund, payment))
    return refund


def _deleted_at_gateway(engine: Engine, client: UPaymentsClient, upay_order_id: str | None, refund: Refund
                        ) -> bool:
    """True only when check-refund answered and no longer lists this refund (by id, else by count: §18 F2)."""
    if not upay_order_id:
        return False
    try:
        items = client.refunds.check(order_id=upay_order_id)
    except gw.GatewayError as exc:
        log.warning("refund %s: could not check after a failed cancel: %s", refund.id, exc)
        return False
    if identifiable(items, upay_order_id):
        return not any(matches(item, refund, upay_order_id) for item in items)
    with Session(engine) as session:
        ours = at_gateway(session.exec(select(Refund).where(col(Refund.payment_pk) == refund.payment_pk)).all())
    return len(items) < len(ours)  # no ids: one fewer listed than ours at the gateway (this one still initiated)


def _cancel_refused(engine: Engine, client: UPaymentsClient, refund: Refund, exc: gw.GatewayError) -> None:
    """Raise the one sentence for a cancel that did not happen (the refund is still listed, or unknown)."""
    if isinstance(exc, gw.BusinessRefusal):
        refresh_refunds(engine, client, actor=SYSTEM_ACTOR, payment_pk=refund.payment_pk)
        raise RefundError(say("UPayments would not cancel refund #{id}: {reason} (it may already have been "
                              "executed).", id=refund.id, reason=exc.message.rstrip("."))) from None
    if is_uncertain(exc):
        raise RefundError(say("The gateway did not confirm cancelling refund #{id}; click “Refresh statuses” and "
                              "try again if it is still initiated.", id=refund.id)) from None
    raise RefundError(say("Refund #{id} was not cancelled: {why}", id=refund.id, why=_refusal_sentence(exc))) from None
