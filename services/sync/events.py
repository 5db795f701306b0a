"""Processing inbox events (webhooks and redirects): parse, ask the gateway, apply — in batches.

Three phases so that a batch costs two database transactions, not two per event: read and parse every event
(one read), ask the gateway about each (no transaction open while waiting on the network), then record every
outcome and apply every verified answer (one write; should it fail, each event is recorded on its own, so one
bad event does not undo the others). The body is never trusted (contract §10, §16 A24): it only says which
payment to look up.

Poison isolation: nothing one delivery does may stop the others. A body that cannot be read is closed with its
``unusable_reason``; any unexpected exception while planning, asking or recording one event is caught, counted
on that event (``attempts``) and retried after a growing pause (``next_attempt_at``); after ``MAX_ATTEMPTS`` the
event is closed as unusable with the last error. Gateway failures that are not the delivery's fault (timeouts,
5xx, the rate limit) leave it open as before. Each look-up runs in the lane :mod:`services.sync.gate` gives it.

Verified once, whichever server: several app servers may hold the same delivery (the worker of the server that
received it, the leader's sync pass, a duplicate delivered to another server). Before its look-up an automatic
verification *claims* the event (:func:`_claim`: ``UPDATE … SET claimed_by … WHERE claimed_by IS NULL``, one
winner) and is refused while an identical delivery is claimed or verified elsewhere; the loser leaves the event
alone. A claim whose look-up got no answer is released; a claim left by a dead server goes stale after
``CLAIM_STALE``.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import or_, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.audit import record
from services.db import session_scope
from services.gateway import Lane, RedirectParams, Transaction, UPaymentsClient
from services.gateway import errors as gw
from services.gateway.redirect import MAX_NOTIFICATION_BYTES
from services.gateway.vocab import result_to_status
from services.ingest import UpsertResult, add_event
from services.models import Payment, WebhookEvent
from services.permissions import SYSTEM, Action, Actor, authorize
from services.sentence import say
from services.sync.gate import gate
from services.sync.receive import lane_of, read_body, receive
from services.sync.verify import (
    PERMANENT_ERRORS,
    CannotLookUp,
    apply_transaction,
    clip,
    lookup,
    lookup_ids,
)
from services.timeutil import utcnow

log = logging.getLogger(__name__)

#: Failed attempts (unexpected exceptions) before a delivery is closed as unusable.
MAX_ATTEMPTS = 5
#: Pause before the first retry of a failed delivery; doubled for each further attempt, capped.
RETRY_BASE_SECONDS = 30.0
RETRY_MAX_SECONDS = 3600.0
#: A claim older than this was left by a server that died mid-verification: another may take the event.
CLAIM_STALE = timedelta(minutes=2)
#: Who claims events in this process.
SERVER_ID = f"{socket.gethostname()[:48]}:{os.getpid()}"[:64]


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
    lane: Lane = Lane.KNOWN
    unusable: str | None = None  # closes the event for good
    crash: str | None = None  # an unexpected exception: counted, retried later, then unusable
    gate_key: str | None = None  # what the look-up gate coalesces it by
    dedupe_key: str = ""
    elsewhere: bool = False  # claimed by another verification (maybe on another server): left alone here


def _plan(session: Session, event: WebhookEvent, *, skip_twins: bool) -> _Plan:
    """Phase 1 for one event; never raises (an unexpected error becomes the plan's ``crash``)."""
    try:
        return _plan_unsafe(session, event, skip_twins=skip_twins)
    except Exception as exc:
        log.exception("planning %s event %s failed", event.source, event.id)
        return _Plan(event.id or 0, event.source, crash=f"{type(exc).__name__}: {exc}")


def _plan_unsafe(session: Session, event: WebhookEvent, *, skip_twins: bool) -> _Plan:
    plan = _Plan(event.id or 0, event.source, dedupe_key=event.dedupe_key)
    if event.unusable_reason:
        plan.unusable = plan.error = event.unusable_reason
        return plan
    params, unusable = read_body(event.body.encode("utf-8"), event.content_type, event.query or "")
    if params is None:
        plan.unusable = plan.error = unusable
        return plan
    plan.params = params
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
    if params.track_id:
        plan.ids = {"track_id": params.track_id}
    elif params.merchant_order_id or params.invoice_id:
        # §18 F6: a delivery's invoice_id is the numeric one, which get-payment-status does not take; it only
        # finds our payment, whose own look-up id (session, opaque invoice id) is what we ask with
        named = session.exec(select(Payment).where(
            col(Payment.order_id) == params.merchant_order_id if params.merchant_order_id
            else col(Payment.invoice_id) == params.invoice_id)).first()
        if named is not None:
            plan.named_payment = named.id
            try:
                plan.ids = lookup_ids(named)
            except CannotLookUp:
                plan.error = (f"Payment {named.order_id} has no gateway id yet; nothing to verify this "
                              f"{event.source} with.")
    if plan.ids is None and plan.error is None:
        plan.error = f"No track id, invoice id or known order in this {event.source}; it cannot be verified."
    if plan.ids is not None:
        plan.lane = lane_of(session, params)[0]
        if skip_twins:  # a staff member's re-process is not rate-limited per sender
            plan.gate_key = key = "&".join(f"{k}={v}" for k, v in sorted(plan.ids.items()))
            lane, refused = gate.admit(plan.lane, key=key, source=event.remote)
            if lane is None:
                plan.ids, plan.error = None, refused
            else:
                plan.lane = lane
    return plan


def _wants_lookup(plan: _Plan) -> bool:
    return (plan.ids is not None and plan.twin_payment is None and plan.error is None and plan.crash is None
            and plan.unusable is None)


def _claim(engine: Engine, plans: Sequence[_Plan]) -> None:
    """Claim every event about to be looked up, in one transaction; mark the others ``elsewhere``.

    One claim per event (a conditional UPDATE only one transaction wins) and one per body: a delivery whose
    identical twin is claimed or already verified is not looked up again. On PostgreSQL the body check runs
    under a transaction lock per body (taken in a fixed order), so two servers cannot both pass it.
    """
    todo = sorted((p for p in plans if _wants_lookup(p)), key=lambda p: (p.dedupe_key, p.event_id))
    if not todo:
        return
    now = utcnow()
    stale = now - CLAIM_STALE
    table = WebhookEvent.__table__  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        for plan in todo:
            if postgres:
                session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": plan.dedupe_key})
            twin = session.exec(select(WebhookEvent.id).where(
                col(WebhookEvent.dedupe_key) == plan.dedupe_key, col(WebhookEvent.id) != plan.event_id,
                or_((col(WebhookEvent.claimed_by).is_not(None) & (col(WebhookEvent.claimed_at) >= stale)
                     & col(WebhookEvent.processed_at).is_(None)),
                    (col(WebhookEvent.processed_at).is_not(None) & col(WebhookEvent.error).is_(None)
                     & col(WebhookEvent.payment_pk).is_not(None)))).limit(1)).first()
            won = twin is None and int(session.execute(
                update(table).where(table.c.id == plan.event_id, table.c.processed_at.is_(None),
                                    or_(table.c.claimed_by.is_(None), table.c.claimed_at < stale))
                .values(claimed_by=SERVER_ID, claimed_at=now)).rowcount or 0) == 1  # type: ignore[attr-defined]
            plan.elsewhere = not won


def _ask(client: UPaymentsClient, plan: _Plan, limiter_timeout: float | None) -> _Plan:
    """Phase 2: the status look-up (no database transaction is open meanwhile)."""
    if plan.ids is None or plan.twin_payment is not None or plan.elsewhere:
        return plan
    unknown = plan.lane == Lane.UNKNOWN
    try:
        # an unknown id never waits for a slot: it gets one of the few kept for it now, or none
        plan.tx = lookup(client, plan.ids, limiter_timeout=0.0 if unknown else limiter_timeout, lane=plan.lane)
    except gw.GatewayError as exc:
        if unknown and isinstance(exc, gw.RateLimited):
            plan.error = ("Not looked up: it names no payment in the dashboard and the look-ups kept for such "
                          "ids are used up.")
            return plan
        if unknown and not isinstance(exc, PERMANENT_ERRORS) and plan.gate_key:
            gate.forget(plan.gate_key)  # not answered: a later retry may ask again
        plan.failure = exc
        level = logging.INFO if isinstance(exc, PERMANENT_ERRORS) else logging.WARNING
        log.log(level, "verifying %s event %s: %s", plan.source, plan.event_id, exc)
    except Exception as exc:  # a bug or a surprise in the client must not escape the batch
        log.exception("verifying %s event %s failed", plan.source, plan.event_id)
        plan.crash = f"{type(exc).__name__}: {exc}"
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
        raise ValueError(say("Webhook event {id} disappeared while it was being verified.", id=plan.event_id))
    if plan.params is not None:
        event.track_id = clip(plan.params.track_id, 64)
        event.order_id = clip(plan.params.merchant_order_id, 64)
        event.result = clip(plan.params.result, 32)
    if plan.tx is not None and plan.params is not None:
        outcome = _apply(session, event, plan.params, plan.tx, actor, known)
    else:
        outcome = _close(session, event, plan)
    if event.processed_at is None:  # to be retried: let any server take it then
        event.claimed_by = event.claimed_at = None
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
    if plan.unusable is not None:
        event.unusable_reason = clip(plan.unusable, 300)
    if plan.crash is not None:
        retry = count_failure(event, plan.crash)
        error = event.error
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
                   actor: Actor, limiter_timeout: float | None = None,
                   lookups: Executor | None = None) -> list[ProcessOutcome]:
    """Verify a batch of inbox deliveries against the gateway and apply them (look-ups in ``lookups`` if given).

    Transient failures (rate limit, timeout, 5xx) leave an event unprocessed with the error, for the next sync
    pass; answers that will not change (unknown track id, unreadable body) close it with the error. A delivery
    identical to one already verified needs no look-up (unless a staff member asks to re-process it).
    """
    checked = authorize(engine, actor, Action.REPROCESS_WEBHOOK, allow_system=True)
    person = None if checked.is_system else checked  # None: automatic, not audited
    with Session(engine) as session:
        events = {e.id: e for e in session.exec(select(WebhookEvent).where(col(WebhookEvent.id).in_(event_ids)))}
        missing = [i for i in event_ids if i not in events]
        if missing:
            raise ValueError(say("Webhook event {id} does not exist.", id=missing[0]))
        plans = [_plan(session, events[i], skip_twins=person is None) for i in event_ids]
    if person is None:  # automatic: once, whichever server; a staff member's re-process always asks
        _claim(engine, plans)
    left = {p.event_id: ProcessOutcome(p.event_id, error="Being verified elsewhere (another server or thread).")
            for p in plans if p.elsewhere}
    plans = [p for p in plans if not p.elsewhere]
    if not plans:
        return [left[i] for i in event_ids]
    ask: Callable[[_Plan], _Plan] = lambda p: _ask(client, p, limiter_timeout)  # noqa: E731
    plans = list(lookups.map(ask, plans)) if lookups is not None and len(plans) > 1 else [ask(p) for p in plans]
    plans.sort(key=lambda p: p.lane)  # known payments are recorded first
    try:
        with session_scope(engine) as session, (session.no_autoflush if person is None else nullcontext()):
            # One flush for the batch, at commit (audited re-processing keeps autoflush: the audit chain reads
            # its own head).
            loaded = {e.id: e for e in session.exec(select(WebhookEvent).where(col(WebhookEvent.id).in_(event_ids)))}
            known = _payments_named(session, plans)
            recorded = [_record(session, plan, person, loaded, known) for plan in plans]
        return _in_order([*recorded, *left.values()], event_ids)
    except Exception:  # one bad event must not undo the batch: record each on its own
        log.exception("recording %d webhook events together failed; recording them one by one", len(plans))
    outcomes: list[ProcessOutcome] = []
    for plan in plans:
        try:
            with session_scope(engine) as session:
                outcomes.append(_record(session, plan, person))
        except Exception as exc:  # counted on the event: retried later, then closed as unusable
            log.exception("recording webhook event %s failed", plan.event_id)
            message = f"Could not be recorded: {type(exc).__name__}: {exc}"
            outcomes.append(ProcessOutcome(plan.event_id, error=message, retry=note_failure(engine, plan.event_id,
                                                                                            message)))
    return _in_order([*outcomes, *left.values()], event_ids)


def _in_order(outcomes: list[ProcessOutcome], event_ids: Sequence[int]) -> list[ProcessOutcome]:
    order = {event_id: index for index, event_id in enumerate(event_ids)}
    return sorted(outcomes, key=lambda o: order.get(o.event_id, 0))


def count_failure(event: WebhookEvent, message: str) -> bool:
    """Count one failed attempt on ``event``: True when it will be retried (after a pause), False when it was
    closed as unusable."""
    event.attempts = (event.attempts or 0) + 1
    event.error = clip(message, 1000)
    if event.attempts >= MAX_ATTEMPTS:
        event.unusable_reason = clip(f"Gave up after {event.attempts} failed attempts: {message}", 300)
        event.processed_at, event.next_attempt_at = utcnow(), None
        return False
    pause = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** (event.attempts - 1))
    event.processed_at, event.next_attempt_at = None, utcnow() + timedelta(seconds=pause)
    return True


def note_failure(engine: Engine, event_id: int, message: str) -> bool:
    """:func:`count_failure` in its own transaction (when recording the outcome itself failed); never raises."""
    try:
        with session_scope(engine) as session:
            event = session.get(WebhookEvent, event_id)
            if event is None:
                return False
            retry = count_failure(event, message)
            session.add(event)
            return retry
    except Exception:  # the database itself is failing: the event stays as it was, for the next pass
        log.exception("counting the failure of webhook event %s failed", event_id)
        return True


def process_event(engine: Engine, client: UPaymentsClient, event_id: int, *, actor: Actor,
                  limiter_timeout: float | None = None) -> ProcessOutcome:
    """Verify one inbox delivery and apply it (also the inbox's "Re-process", audited unless ``actor`` is SYSTEM)."""
    return process_events(engine, client, [event_id], actor=actor, limiter_timeout=limiter_timeout)[0]


def apply_redirect(engine: Engine, client: UPaymentsClient, url_or_query: str, *,
                   limiter_timeout: float | None = 5.0, remote: str | None = None) -> UpsertResult | None:
    """The customer's return URL: stored in the inbox (source "redirect"), then verified with the gateway.

    The URL itself is never trusted. Returns the applied result, or None when it could not be verified now
    (the event stays in the inbox; a transient failure is retried by the next sync pass).
    """
    receipt = receive(engine, url_or_query.encode("utf-8"), "application/x-www-form-urlencoded",
                      max_bytes=MAX_NOTIFICATION_BYTES, source="redirect", remote=remote)
    outcome = process_event(engine, client, receipt.event_id, actor=SYSTEM, limiter_timeout=limiter_timeout)
    if outcome.payment_pk is None or not (outcome.verified or outcome.skipped_duplicate):
        return None
    with Session(engine) as session:
        payment = session.get(Payment, outcome.payment_pk)
    return UpsertResult(payment, changed=outcome.changed, status_before=outcome.status_before,
                        status_after=outcome.status_after)


__all__ = ["ProcessOutcome", "apply_redirect", "process_event", "process_events"]
