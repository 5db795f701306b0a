"""Sync passes: poll what is not final yet (open inbox events, pending payments, links past expiry).

Every status change is confirmed by the gateway's own look-up first (:mod:`services.sync.verify`). A pass runs
in the ``POLL`` lane (known payments' confirmations go first, :class:`services.gateway.Lane`), stops at the rate
limit, and catches whatever one item raises, so one bad event or payment never ends a pass. Inbox events still
with the webhook worker (:mod:`services.sync.worker`) are left to it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.db import session_scope
from services.gateway import Lane, UPaymentsClient, status_lane
from services.gateway import errors as gw
from services.ingest import Observation, upsert
from services.models import Payment, PaymentStatus, WebhookEvent
from services.permissions import SYSTEM, Action, Actor, authorize
from services.sync import state as syncstate
from services.sync.events import ProcessOutcome, note_failure, process_event
from services.sync.verify import CannotLookUp, has_lookup_id_clause, refresh_payment
from services.sync.worker import MAX_DELAY
from services.timeutil import utcnow

log = logging.getLogger(__name__)

#: A link's failed or cancelled attempt is not final while the link is valid: the customer can try again.
RETRYABLE = (PaymentStatus.FAILED, PaymentStatus.CANCELLED)
#: How long after ``expires_at`` a link is still followed (a payment started just before expiry may finish).
LINK_GRACE = timedelta(minutes=30)
#: How long a link without ``expires_at`` is followed after its creation.
LINK_FOLLOW_WITHOUT_EXPIRY = timedelta(days=2)
#: Inbox events younger than this are still with the verifier; a sync pass leaves them alone.
EVENT_MIN_AGE = MAX_DELAY + 5.0


# ---------------------------------------------------------------- sync pass


@dataclass
class SyncReport:
    """What one sync pass did."""

    checked: int = 0  # status look-ups made
    changed: int = 0  # payments whose status changed
    errors: int = 0  # look-ups that failed (other than the rate limit)
    rate_limited: bool = False  # the gateway (or our limiter) said stop; the pass ended early
    duration_s: float = 0.0
    expired: int = 0  # pending links past their expiry, marked expired
    events: int = 0  # inbox events verified
    total: int = 0  # items planned for this pass
    stopped: bool = False  # asked to stop before the end
    retry_after: float | None = None  # seconds the gateway asked us to wait
    problems: list[str] = field(default_factory=list)  # the first few error messages

    def summary(self) -> str:
        """One line for logs and the command line."""
        text = (f"checked {self.checked}, changed {self.changed}, expired {self.expired}, "
                f"webhook events {self.events}, errors {self.errors} in {self.duration_s:.1f} s")
        if self.rate_limited:
            wait = f" (retry after {self.retry_after:.0f} s)" if self.retry_after else ""
            text += f"; stopped by the gateway's rate limit{wait}"
        elif self.stopped:
            text += "; stopped early"
        return text

    def _problem(self, message: str) -> None:
        if len(self.problems) < 5:
            self.problems.append(message)


def _open_events(engine: Engine, limit: int, min_age_s: float) -> list[int]:
    """Events not verified yet (or to retry), oldest first; fresh ones are still with the verifier, and one
    whose processing failed waits out its backoff (``next_attempt_at``)."""
    now = utcnow()
    before = now - timedelta(seconds=min_age_s)
    with Session(engine) as session:
        rows = session.exec(select(WebhookEvent.id).where(col(WebhookEvent.processed_at).is_(None),
                                                          col(WebhookEvent.unusable_reason).is_(None),
                                                          or_(col(WebhookEvent.next_attempt_at).is_(None),
                                                              col(WebhookEvent.next_attempt_at) <= now),
                                                          col(WebhookEvent.received_at) <= before)
                            .order_by(col(WebhookEvent.received_at), col(WebhookEvent.id)).limit(limit)).all()
    return [int(r) for r in rows if r is not None]


def _expiring(engine: Engine, limit: int) -> tuple[list[int], list[int]]:
    """Pending payments past ``expires_at``: (with a gateway id, without), oldest expiry first."""
    with Session(engine) as session:
        rows = session.exec(
            select(Payment.id, Payment.track_id, Payment.invoice_id, Payment.session_id)
            .where(col(Payment.status) == PaymentStatus.PENDING, col(Payment.expires_at).is_not(None),
                   col(Payment.expires_at) < utcnow())
            .order_by(col(Payment.expires_at)).limit(limit)
        ).all()
    with_id = [int(pk) for pk, *ids in rows if pk is not None and any(ids)]
    without = [int(pk) for pk, *ids in rows if pk is not None and not any(ids)]
    return with_id, without


def _pending(engine: Engine, limit: int) -> list[int]:
    """Payments worth a look-up, newest first: pending ones, links whose creation is uncertain, and links whose
    last attempt failed while the link is still valid (the customer may "Try again" and pay: a new attempt)."""
    now = utcnow()
    retryable = (col(Payment.source) == "link") & col(Payment.status).in_(RETRYABLE) & or_(
        col(Payment.expires_at) > now - LINK_GRACE,
        col(Payment.expires_at).is_(None) & (col(Payment.created_at) > now - LINK_FOLLOW_WITHOUT_EXPIRY))
    with Session(engine) as session:
        rows = session.exec(
            select(Payment.id)
            .where(has_lookup_id_clause(),
                   or_(col(Payment.status) == PaymentStatus.PENDING,
                       (col(Payment.link_state) == "uncertain") & col(Payment.verified_at).is_(None),
                       retryable))
            .order_by(col(Payment.created_at).desc(), col(Payment.id).desc()).limit(limit)
        ).all()
    return [int(r) for r in rows if r is not None]


def _expire(engine: Engine, payment_pk: int, raw: dict[str, object] | None) -> bool:
    """Mark a still-pending payment expired through the one writer (never downgrades a paid one)."""
    with session_scope(engine) as session:
        payment = session.get(Payment, payment_pk)
        if payment is None or payment.status != PaymentStatus.PENDING:
            return False
        obs = Observation(merchant_order_id=payment.order_id, verified=True, source="expiry",
                          gateway_status="expired", amount_fils=payment.amount_fils, currency=payment.currency,
                          raw={**(raw or {}), "_expired_by": "dashboard",
                               "_expires_at": payment.expires_at.isoformat() if payment.expires_at else None})
        return upsert(session, obs, create_missing=False).status_after == PaymentStatus.EXPIRED


def _wait_for_slot(client: UPaymentsClient, stop: threading.Event | None) -> bool:
    """Wait (stoppably) until the shared status limiter has room for this lane; False if asked to stop."""
    limiter = client.status_limiter
    while limiter.room() == 0:
        if stop is not None and stop.is_set():
            return False
        if stop is not None:
            stop.wait(0.25)
        else:
            time.sleep(0.25)
    return not (stop is not None and stop.is_set())


def sync_pending(engine: Engine, client: UPaymentsClient, *, limit: int = 200,
                 progress: Callable[[int, int], None] | None = None, stop: threading.Event | None = None,
                 actor: Actor, event_min_age_s: float = EVENT_MIN_AGE) -> SyncReport:
    """One pass: retry open inbox events, then look up pending payments (expired links first, then newest).

    At most ``limit`` look-ups, each through the client's shared limiter. A 429 (or a limiter wait that would be
    too long) ends the pass with ``rate_limited``. The "last synced" time is stored when the pass completed.
    A staff member asking for it (``actor``) needs the sync permission at that moment; the background and cron
    runs pass :data:`~services.permissions.SYSTEM`.
    Inbox events younger than ``event_min_age_s`` are left to the webhook verifier that is handling them.
    """
    authorize(engine, actor, Action.SYNC, allow_system=True)
    with status_lane(Lane.POLL):  # known payments' confirmations go first; the pass takes what they leave
        return _sync_pass(engine, client, limit=limit, progress=progress, stop=stop, event_min_age_s=event_min_age_s)


def _sync_pass(engine: Engine, client: UPaymentsClient, *, limit: int, progress: Callable[[int, int], None] | None,
               stop: threading.Event | None, event_min_age_s: float) -> SyncReport:
    started = time.perf_counter()
    report = SyncReport()
    events = _open_events(engine, limit, event_min_age_s)
    expiring, expire_now = _expiring(engine, limit)
    for pk in expire_now:  # no id: nobody can have paid through the gateway, nothing to ask
        if _expire(engine, pk, None):
            report.expired += 1
            report.changed += 1
    plan: list[tuple[str, int]] = [("event", e) for e in events]
    seen: set[int] = set()
    for pk in [*expiring, *_pending(engine, limit)]:
        if pk not in seen:
            seen.add(pk)
            plan.append(("payment", pk))
    plan = plan[:limit]
    expiring_set = set(expiring)
    report.total = len(plan)
    done_payments: set[int] = set()
    reached_gateway = False
    for index, (kind, item) in enumerate(plan):
        if not _wait_for_slot(client, stop):
            report.stopped = True
            break
        if kind == "event":
            outcome = _event_isolated(engine, client, item)
            report.events += 1
            report.checked += outcome.looked_up
            report.changed += outcome.status_before != outcome.status_after
            reached_gateway |= outcome.looked_up
            if outcome.payment_pk is not None:
                done_payments.add(outcome.payment_pk)
            if outcome.rate_limited:
                report.rate_limited, report.retry_after = True, outcome.retry_after
                break
            if outcome.retry:
                report.errors += 1
                report._problem(outcome.error or "look-up failed")
        elif item not in done_payments:
            checked = report.checked
            try:
                keep_going = _sync_payment(engine, client, item, report, expire=item in expiring_set)
            except Exception as exc:  # one payment must not end the pass
                log.exception("sync: payment %s failed", item)
                report.errors += 1
                report._problem(f"payment {item}: {type(exc).__name__}: {exc}")
                keep_going = True
            if not keep_going:
                break
            reached_gateway |= report.checked > checked
        if progress is not None:
            progress(index + 1, report.total)
    report.duration_s = time.perf_counter() - started
    if not report.rate_limited and not report.stopped and (reached_gateway or report.errors == 0):
        syncstate.set_time(engine)
    log.info("sync pass: %s", report.summary())
    return report


def _event_isolated(engine: Engine, client: UPaymentsClient, event_id: int) -> ProcessOutcome:
    """:func:`process_event`, with whatever it raises counted on the event (retried later, then unusable)."""
    try:
        return process_event(engine, client, event_id, actor=SYSTEM)
    except Exception as exc:
        log.exception("sync: webhook event %s failed", event_id)
        message = f"{type(exc).__name__}: {exc}"
        return ProcessOutcome(event_id, error=message, retry=note_failure(engine, event_id, message))


def _sync_payment(engine: Engine, client: UPaymentsClient, payment_pk: int, report: SyncReport, *,
                  expire: bool) -> bool:
    """Look up one payment; False when the pass must stop (rate limited)."""
    try:
        result = refresh_payment(engine, client, payment_pk=payment_pk, actor=SYSTEM)
    except (CannotLookUp, ValueError):
        return True
    except gw.RateLimited as exc:
        report.rate_limited, report.retry_after = True, exc.retry_after
        report._problem(str(exc))
        return False
    except gw.GatewayError as exc:
        report.errors += 1
        report._problem(str(exc))
        log.warning("sync: payment %s: %s", payment_pk, exc)
        return True
    report.checked += 1
    report.changed += result.status_before != result.status_after
    if result.problem:
        report._problem(f"{result.payment.order_id if result.payment else payment_pk}: {result.problem}")
    if expire and result.status_after == PaymentStatus.PENDING:
        raw = json.loads(result.payment.raw) if result.payment is not None and result.payment.raw else None
        if _expire(engine, payment_pk, raw):
            report.expired += 1
            report.changed += 1
    return True
