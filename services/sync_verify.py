"""Verified status updates: a webhook, redirect or poll triggers the gateway's own status look-up, which is bound
to the local payment (order id + amount + currency, by :func:`services.ingest.upsert`) and applied.

A notification body is never trusted (contract §10, §16 A24): it only tells us *which* payment to look up.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.audit import record
from services.db import session_scope
from services.gateway import RedirectParams, Transaction, UPaymentsClient, parse_notification
from services.gateway import errors as gw
from services.gateway.redirect import MAX_NOTIFICATION_BYTES
from services.ingest import UpsertResult, observation_from_transaction, status_for, upsert
from services.models import Payment, PaymentEvent, WebhookEvent
from services.permissions import Action, Actor, require
from services.timeutil import utcnow
from services.webhooks import receive

log = logging.getLogger(__name__)

#: Gateway answers that will not change by asking again: the event is closed with the error.
PERMANENT_ERRORS: tuple[type[gw.GatewayError], ...] = (gw.NotFound, gw.BusinessRefusal, gw.ValidationFailed,
                                                        gw.BadRequest)


class CannotLookUp(ValueError):
    """The payment has no gateway id (track, invoice or session id) yet, so its status cannot be asked for."""


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


def _clip(value: str | None, size: int) -> str | None:
    return value[:size] if value else value


def _add_event(session: Session, payment_pk: int, kind: str, detail: dict[str, Any], actor: str | None = None,
               ) -> None:
    session.add(PaymentEvent(payment_pk=payment_pk, kind=kind, actor=actor, detail=json.dumps(detail, default=str)))


def apply_transaction(session: Session, tx: Transaction, *, source: str) -> UpsertResult:
    """Upsert a verified look-up result in ``session`` (never creates a payment the cache does not know)."""
    return upsert(session, observation_from_transaction(tx, source=source), create_missing=False)


def _parse(event: WebhookEvent) -> RedirectParams:
    return parse_notification(event.body.encode("utf-8"), event.content_type)


def _contradictions(params: RedirectParams, tx: Transaction) -> list[str]:
    """Where the body's claim disagrees with the gateway's answer."""
    found = []
    if params.merchant_order_id and tx.merchant_order_id and params.merchant_order_id != tx.merchant_order_id:
        found.append(f"body names order {params.merchant_order_id}, gateway says {tx.merchant_order_id}")
    if params.track_id and tx.track_id and params.track_id != tx.track_id:
        found.append(f"body names track id {params.track_id}, gateway says {tx.track_id}")
    if params.result and status_for(params.result) != status_for(tx.result, tx.status):
        found.append(f"body claims {params.result}, gateway says {tx.result or tx.status or 'no result yet'}")
    return found


def _target_ids(session: Session, params: RedirectParams) -> tuple[dict[str, str] | None, Payment | None]:
    """Which id to look up for a notification: its track id, else invoice id, else the named order's own ids."""
    if params.track_id:
        return {"track_id": params.track_id}, None
    if params.invoice_id:
        return {"invoice_id": params.invoice_id}, None
    payment = None
    if params.merchant_order_id:
        payment = session.exec(select(Payment).where(col(Payment.order_id) == params.merchant_order_id)).first()
    if payment is None:
        return None, None
    try:
        return lookup_ids(payment), payment
    except CannotLookUp:
        return None, payment


def process_event(engine: Engine, client: UPaymentsClient, event_id: int, *, actor: Actor | None = None,
                  limiter_timeout: float | None = None) -> ProcessOutcome:
    """Verify one inbox delivery against the gateway and apply it (also the inbox's "Re-process").

    Transient failures (rate limit, timeout, 5xx) leave the event unprocessed with the error, for the next sync
    pass; answers that will not change (unknown track id, unreadable body) close it with the error.
    """
    if actor is not None:
        require(actor, Action.REPROCESS_WEBHOOK)
    with Session(engine) as session:
        event = session.get(WebhookEvent, event_id)
        if event is None:
            raise ValueError(f"Webhook event {event_id} does not exist.")
        try:
            params = _parse(event)
        except ValueError as exc:
            return _finish(engine, event_id, actor, None, error=f"Unreadable body: {exc}", retry=False)
        twin = None
        if event.duplicate and actor is None:
            twin = session.exec(
                select(WebhookEvent).where(col(WebhookEvent.dedupe_key) == event.dedupe_key,
                                           col(WebhookEvent.id) != event_id,
                                           col(WebhookEvent.processed_at).is_not(None),
                                           col(WebhookEvent.error).is_(None),
                                           col(WebhookEvent.payment_pk).is_not(None))
                .limit(1)
            ).first()
        ids, named = _target_ids(session, params)
        source = event.source
    if twin is not None:
        return _finish(engine, event_id, actor, params, error=None, retry=False, payment_pk=twin.payment_pk,
                       skipped_duplicate=True)
    if ids is None:
        why = (f"Payment {named.order_id} has no gateway id yet; nothing to verify this {source} with."
               if named is not None else
               f"No track id, invoice id or known order in this {source}; it cannot be verified.")
        return _finish(engine, event_id, actor, params, error=why, retry=False,
                       payment_pk=named.id if named is not None else None)
    try:
        tx = lookup(client, ids, limiter_timeout=limiter_timeout)
    except gw.GatewayError as exc:
        permanent = isinstance(exc, PERMANENT_ERRORS)
        log.log(logging.INFO if permanent else logging.WARNING, "verifying %s event %s: %s", source, event_id, exc)
        prefix = "The gateway does not confirm this delivery" if permanent else "Status look-up failed"
        outcome = _finish(engine, event_id, actor, params, error=f"{prefix}: {exc}", retry=not permanent)
        if isinstance(exc, gw.RateLimited):
            return replace(outcome, rate_limited=True, retry_after=exc.retry_after)
        return outcome
    return _apply_event(engine, event_id, actor, params, tx, source)


def _finish(engine: Engine, event_id: int, actor: Actor | None, params: RedirectParams | None, *,
            error: str | None, retry: bool, payment_pk: int | None = None, skipped_duplicate: bool = False,
            ) -> ProcessOutcome:
    """Record an outcome that changes no payment."""
    with session_scope(engine) as session:
        event = session.get(WebhookEvent, event_id)
        assert event is not None
        _fill_ids(event, params)
        event.error = _clip(error, 1000)
        event.payment_pk = payment_pk
        event.processed_at = None if retry else utcnow()
        session.add(event)
        status = None
        if payment_pk is not None:
            payment = session.get(Payment, payment_pk)
            status = payment.status if payment else None
        if actor is not None:
            record(session, actor=actor.email, action="reprocess_webhook", target=f"webhook:{event_id}",
                   after={"error": error, "payment_pk": payment_pk, "status": status})
    return ProcessOutcome(event_id, payment_pk=payment_pk, status_before=status, status_after=status, error=error,
                          retry=retry, skipped_duplicate=skipped_duplicate)


def _fill_ids(event: WebhookEvent, params: RedirectParams | None) -> None:
    if params is None:
        return
    event.track_id = _clip(params.track_id, 64)
    event.order_id = _clip(params.merchant_order_id, 64)
    event.result = _clip(params.result, 32)


def _apply_event(engine: Engine, event_id: int, actor: Actor | None, params: RedirectParams, tx: Transaction,
                 source: str) -> ProcessOutcome:
    """Apply the verified look-up for an event, in one transaction with the event's own outcome."""
    contradictions = _contradictions(params, tx)
    with session_scope(engine) as session:
        event = session.get(WebhookEvent, event_id)
        assert event is not None
        _fill_ids(event, params)
        result = apply_transaction(session, tx, source=source)
        payment = result.payment
        error: str | None = None
        if payment is None:
            verified_status = status_for(tx.result, tx.status).value
            error = (f"The gateway confirms order {tx.merchant_order_id or '?'} ({verified_status}), but it is not "
                     "in the dashboard's cache.")
        elif result.problem:
            error = f"Not applied: {result.problem}."
        elif contradictions:
            error = "Body did not match the gateway (the gateway's answer was applied): " + "; ".join(contradictions)
        confirmed = payment is not None and not result.problem and not contradictions
        if payment is not None and payment.id is not None:
            if confirmed and source == "webhook" and not payment.webhook_received:
                payment.webhook_received = True
                session.add(payment)
            _add_event(session, payment.id, source, {
                "event_id": event_id, "claimed": params.result, "verified": tx.result, "track_id": tx.track_id,
                "confirmed": confirmed,
            }, actor.email if actor else None)
        event.payment_pk = payment.id if payment is not None else None
        event.error = _clip(error, 1000)
        event.processed_at = utcnow()
        session.add(event)
        if actor is not None:
            record(session, actor=actor.email, action="reprocess_webhook", target=f"webhook:{event_id}",
                   before={"status": result.status_before},
                   after={"status": result.status_after, "payment": payment.order_id if payment else None,
                          "error": error})
        outcome = ProcessOutcome(
            event_id, payment_pk=event.payment_pk, order_id=payment.order_id if payment else tx.merchant_order_id,
            status_before=result.status_before, status_after=result.status_after, changed=result.changed,
            verified=payment is not None and not result.problem, claim_confirmed=confirmed, error=error,
            looked_up=True,
        )
    if contradictions:
        log.warning("%s event %s contradicted the gateway: %s", source, event_id, "; ".join(contradictions))
    return outcome


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
            _add_event(session, result.payment.id, "checked",
                       {"source": source, "result": tx.result, "status": result.status_after}, actor.email)
    return result


def apply_redirect(engine: Engine, client: UPaymentsClient, url_or_query: str, *,
                   limiter_timeout: float | None = 5.0) -> UpsertResult | None:
    """The customer's return URL: stored in the inbox (source "redirect"), then verified with the gateway.

    The URL itself is never trusted. Returns the applied result, or None when it could not be verified now
    (the event stays in the inbox; a transient failure is retried by the next sync pass).
    """
    receipt = receive(engine, url_or_query.encode("utf-8"), "application/x-www-form-urlencoded",
                      max_bytes=MAX_NOTIFICATION_BYTES, source="redirect")
    outcome = process_event(engine, client, receipt.event_id, limiter_timeout=limiter_timeout)
    if outcome.payment_pk is None or not outcome.verified:
        return None
    with Session(engine) as session:
        payment = session.get(Payment, outcome.payment_pk)
    return UpsertResult(payment, changed=outcome.changed, status_before=outcome.status_before,
                        status_after=outcome.status_after)
