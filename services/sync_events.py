"""Processing inbox events (webhooks and redirects): parse, ask the gateway, apply — in batches.

Three phases so that a batch costs two database transactions, not two per event: read and parse every event
(one read), ask the gateway about each (no transaction open while waiting on the network), then record every
outcome and apply every verified answer (one write; should it fail, each event is recorded on its own, so one
bad event does not undo the others). The body is never trusted (contract §10, §16 A24): it only says which
payment to look up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import nullcontext
from dataclasses import dataclass, replace

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.audit import record
from services.db import session_scope
from services.gateway import RedirectParams, Transaction, UPaymentsClient, parse_notification
from services.gateway import errors as gw
from services.gateway.redirect import MAX_NOTIFICATION_BYTES
from services.gateway.vocab import result_to_status
from services.ingest import UpsertResult, add_event
from services.models import Payment, WebhookEvent
from services.permissions import Action, Actor, require
from services.sync_verify import (
    PERMANENT_ERRORS,
    CannotLookUp,
    apply_transaction,
    clip,
    lookup,
    lookup_ids,
)
from services.timeutil import utcnow
from services.webhooks import receive

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessOutcome:
    """What processing one inbox event did."""

    event_id: int
    payment_pk: int | None = None
    order_id: str | None = None
    status_before: str | None = None
    status_after: str | None = None
    changed: bool = False
    verified: bool = False  # the gateway's look-up was made and bound to a cached payment
    claim_confirmed: bool = False  # the body's own claim agreed with the gateway
    error: str | None = None
    retry: bool = False  # transient failure: left unprocessed for the next sync pass
    skipped_duplicate: bool = False  # an identical earlier delivery was already verified
    looked_up: bool = False  # the gateway answered a status look-up for it
    rate_limited: bool = False  # the look-up was refused for the rate limit
    retry_after: float | None = None


@dataclass
class _Plan:
    """Phase 1's verdict for one event: what to ask the gateway, or why not."""

    event_id: int
    source: str
    params: RedirectParams | None = None
    ids: dict[str, str] | None = None
    twin_payment: int | None = None  # an identical delivery already verified for this payment
    named_payment: int | None = None
    error: str | None = None  # decided without the gateway (unreadable, nothing to look up)
    tx: Transaction | None = None
    failure: gw.GatewayError | None = None


def _plan(session: Session, event: WebhookEvent, *, skip_twins: bool) -> _Plan:
    plan = _Plan(event.id or 0, event.source)
    try:
        plan.params = parse_notification(event.body.encode("utf-8"), event.content_type)
    except ValueError as exc:
        plan.error = f"Unreadable body: {exc}"
        return plan
    if event.duplicate and skip_twins:
        plan.twin_payment = session.exec(
            select(WebhookEvent.payment_pk).where(col(WebhookEvent.dedupe_key) == event.dedupe_key,
                                                  col(WebhookEvent.id) != event.id,
                                                  col(WebhookEvent.processed_at).is_not(None),
                                                  col(WebhookEvent.error).is_(None),
                                                  col(WebhookEvent.payment_pk).is_not(None)).limit(1)
        ).first()
        if plan.twin_payment is not None:
            return plan
    params = plan.params
    if params.track_id:
        plan.ids = {"track_id": params.track_id}
    elif params.invoice_id:
        plan.ids = {"invoice_id": params.invoice_id}
    elif params.merchant_order_id:
        named = session.exec(select(Payment).where(col(Payment.order_id) == params.merchant_order_id)).first()
        if named is not None:
            plan.named_payment = named.id
            try:
                plan.ids = lookup_ids(named)
            except CannotLookUp:
                plan.error = (f"Payment {named.order_id} has no gateway id yet; nothing to verify this "
                              f"{event.source} with.")
    if plan.ids is None and plan.error is None:
        plan.error = f"No track id, invoice id or known order in this {event.source}; it cannot be verified."
    return plan


def _ask(client: UPaymentsClient, plan: _Plan, limiter_timeout: float | None) -> _Plan:
    """Phase 2: the status look-up (no database transaction is open meanwhile)."""
    if plan.ids is None or plan.twin_payment is not None:
        return plan
    try:
        plan.tx = lookup(client, plan.ids, limiter_timeout=limiter_timeout)
    except gw.GatewayError as exc:
        plan.failure = exc
        level = logging.INFO if isinstance(exc, PERMANENT_ERRORS) else logging.WARNING
        log.log(level, "verifying %s event %s: %s", plan.source, plan.event_id, exc)
    return plan


def _contradictions(params: RedirectParams, tx: Transaction) -> list[str]:
    """Where the body's claim disagrees with the gateway's answer."""
    found = []
    if params.merchant_order_id and tx.merchant_order_id and params.merchant_order_id != tx.merchant_order_id:
        found.append(f"body names order {params.merchant_order_id}, gateway says {tx.merchant_order_id}")
    if params.track_id and tx.track_id and params.track_id != tx.track_id:
        found.append(f"body names track id {params.track_id}, gateway says {tx.track_id}")
    if params.result and result_to_status(params.result) != result_to_status(tx.result, tx.status):
        found.append(f"body claims {params.result}, gateway says {tx.result or tx.status or 'no result yet'}")
    return found


def _payments_named(session: Session, plans: Sequence[_Plan]) -> dict[str, Payment]:
    """The cached payments the gateway's answers name, in one query, by order id."""
    names = {p.tx.merchant_order_id for p in plans if p.tx is not None and p.tx.merchant_order_id}
    if not names:
        return {}
    return {p.order_id: p for p in session.exec(select(Payment).where(col(Payment.order_id).in_(names)))}


def _record(session: Session, plan: _Plan, actor: Actor | None,
            loaded: dict[int | None, WebhookEvent] | None = None,
            known: Mapping[str, Payment] | None = None) -> ProcessOutcome:
    """Phase 3 for one event, inside the caller's transaction (``loaded``: the batch's rows, read at once;
    ``known``: the payments they name)."""
    event = loaded.get(plan.event_id) if loaded is not None else session.get(WebhookEvent, plan.event_id)
    if event is None:
        raise ValueError(f"Webhook event {plan.event_id} disappeared while it was being verified.")
    if plan.params is not None:
        event.track_id = clip(plan.params.track_id, 64)
        event.order_id = clip(plan.params.merchant_order_id, 64)
        event.result = clip(plan.params.result, 32)
    if plan.tx is not None and plan.params is not None:
        outcome = _apply(session, event, plan.params, plan.tx, actor, known)
    else:
        outcome = _close(session, event, plan)
    session.add(event)
    if actor is not None:
        record(session, actor=actor.email, action="reprocess_webhook", target=f"webhook:{plan.event_id}",
               before={"status": outcome.status_before},
               after={"status": outcome.status_after, "payment": outcome.order_id, "error": outcome.error})
    return outcome


def _close(session: Session, event: WebhookEvent, plan: _Plan) -> ProcessOutcome:
    """An outcome that changes no payment: a duplicate, an unverifiable body, or a failed look-up."""
    exc = plan.failure
    retry = exc is not None and not isinstance(exc, PERMANENT_ERRORS)
    error = plan.error
    if exc is not None:
        prefix = "Status look-up failed" if retry else "The gateway does not confirm this delivery"
        error = f"{prefix}: {exc}"
    payment_pk = plan.twin_payment or plan.named_payment
    payment = session.get(Payment, payment_pk) if payment_pk is not None else None
    event.error, event.payment_pk = clip(error, 1000), payment_pk
    event.processed_at = None if retry else utcnow()
    status = payment.status if payment is not None else None
    outcome = ProcessOutcome(plan.event_id, payment_pk=payment_pk, order_id=payment.order_id if payment else None,
                             status_before=status, status_after=status, error=error, retry=retry,
                             skipped_duplicate=plan.twin_payment is not None)
    if isinstance(exc, gw.RateLimited):
        outcome = replace(outcome, rate_limited=True, retry_after=exc.retry_after)
    return outcome


def _apply(session: Session, event: WebhookEvent, params: RedirectParams, tx: Transaction, actor: Actor | None,
           known: Mapping[str, Payment] | None = None) -> ProcessOutcome:
    """Apply the gateway's answer (never the body's) and note whether the body told the truth."""
    contradictions = _contradictions(params, tx)
    result = apply_transaction(session, tx, source=event.source, known=known)
    payment = result.payment
    error: str | None = None
    if payment is None:
        error = (f"The gateway confirms order {tx.merchant_order_id or '?'} "
                 f"({result_to_status(tx.result, tx.status).value}), but it is not in the dashboard's cache.")
    elif result.problem:
        error = f"Not applied: {result.problem}."
    elif contradictions:
        error = "Body did not match the gateway (the gateway's answer was applied): " + "; ".join(contradictions)
        log.warning("%s event %s contradicted the gateway: %s", event.source, event.id, "; ".join(contradictions))
    confirmed = payment is not None and not result.problem and not contradictions
    if payment is not None and payment.id is not None:
        if confirmed and event.source == "webhook" and not payment.webhook_received:
            payment.webhook_received = True
            session.add(payment)
        add_event(session, payment.id, event.source, {
            "event_id": event.id, "claimed": params.result, "verified": tx.result, "track_id": tx.track_id,
            "confirmed": confirmed}, actor.email if actor else None)
    event.payment_pk = payment.id if payment is not None else None
    event.error, event.processed_at = clip(error, 1000), utcnow()
    return ProcessOutcome(
        event.id or 0, payment_pk=event.payment_pk, order_id=payment.order_id if payment else tx.merchant_order_id,
        status_before=result.status_before, status_after=result.status_after, changed=result.changed,
        verified=payment is not None and not result.problem, claim_confirmed=confirmed, error=error, looked_up=True)


def process_events(engine: Engine, client: UPaymentsClient, event_ids: Sequence[int], *,
                   actor: Actor | None = None, limiter_timeout: float | None = None,
                   lookups: Executor | None = None) -> list[ProcessOutcome]:
    """Verify a batch of inbox deliveries against the gateway and apply them (look-ups in ``lookups`` if given).

    Transient failures (rate limit, timeout, 5xx) leave an event unprocessed with the error, for the next sync
    pass; answers that will not change (unknown track id, unreadable body) close it with the error. A delivery
    identical to one already verified needs no look-up (unless a staff member asks to re-process it).
    """
    if actor is not None:
        require(actor, Action.REPROCESS_WEBHOOK)
    with Session(engine) as session:
        events = {e.id: e for e in session.exec(select(WebhookEvent).where(col(WebhookEvent.id).in_(event_ids)))}
        missing = [i for i in event_ids if i not in events]
        if missing:
            raise ValueError(f"Webhook event {missing[0]} does not exist.")
        plans = [_plan(session, events[i], skip_twins=actor is None) for i in event_ids]
    ask: Callable[[_Plan], _Plan] = lambda p: _ask(client, p, limiter_timeout)  # noqa: E731
    plans = list(lookups.map(ask, plans)) if lookups is not None and len(plans) > 1 else [ask(p) for p in plans]
    try:
        with session_scope(engine) as session, (session.no_autoflush if actor is None else nullcontext()):
            # One flush for the batch, at commit (audited re-processing keeps autoflush: the audit chain reads
            # its own head).
            loaded = {e.id: e for e in session.exec(select(WebhookEvent).where(col(WebhookEvent.id).in_(event_ids)))}
            known = _payments_named(session, plans)
            return [_record(session, plan, actor, loaded, known) for plan in plans]
    except Exception:  # one bad event must not undo the batch: record each on its own
        if len(plans) == 1:
            raise
        log.exception("recording %d webhook events together failed; recording them one by one", len(plans))
    outcomes: list[ProcessOutcome] = []
    for plan in plans:
        try:
            with session_scope(engine) as session:
                outcomes.append(_record(session, plan, actor))
        except Exception as exc:  # left open: the next sync pass retries it
            log.exception("recording webhook event %s failed", plan.event_id)
            outcomes.append(ProcessOutcome(plan.event_id, error=f"Could not be recorded: {exc}", retry=True))
    return outcomes


def process_event(engine: Engine, client: UPaymentsClient, event_id: int, *, actor: Actor | None = None,
                  limiter_timeout: float | None = None) -> ProcessOutcome:
    """Verify one inbox delivery and apply it (also the inbox's "Re-process", audited when ``actor`` is given)."""
    return process_events(engine, client, [event_id], actor=actor, limiter_timeout=limiter_timeout)[0]


def apply_redirect(engine: Engine, client: UPaymentsClient, url_or_query: str, *,
                   limiter_timeout: float | None = 5.0) -> UpsertResult | None:
    """The customer's return URL: stored in the inbox (source "redirect"), then verified with the gateway.

    The URL itself is never trusted. Returns the applied result, or None when it could not be verified now
    (the event stays in the inbox; a transient failure is retried by the next sync pass).
    """
    receipt = receive(engine, url_or_query.encode("utf-8"), "application/x-www-form-urlencoded",
                      max_bytes=MAX_NOTIFICATION_BYTES, source="redirect")
    outcome = process_event(engine, client, receipt.event_id, limiter_timeout=limiter_timeout)
    if outcome.payment_pk is None or not (outcome.verified or outcome.skipped_duplicate):
        return None
    with Session(engine) as session:
        payment = session.get(Payment, outcome.payment_pk)
    return UpsertResult(payment, changed=outcome.changed, status_before=outcome.status_before,
                        status_after=outcome.status_after)


__all__ = ["ProcessOutcome", "apply_redirect", "process_event", "process_events"]
