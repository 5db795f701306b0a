"""Reconciliation: where the cache and the gateway disagree, and a one-payment re-sync to settle it."""

from __future__ import annotations

import heapq
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.audit import record
from services.db import read_session, session_scope
from services.gateway import UPaymentsClient
from services.gateway import errors as gw
from services.gateway.vocab import result_to_status
from services.ingest import UpsertResult
from services.models import Payment, PaymentStatus, WebhookEvent
from services.permissions import Action, Actor, authorize
from services.sentence import N_, Count, say, sentence_of
from services.sync.verify import (
    CannotLookUp,
    apply_lookup,
    has_lookup_id,
    has_lookup_id_clause,
    lookup,
    lookup_ids,
    lookup_payment,
)
from services.timeutil import utcnow

log = logging.getLogger(__name__)

STATUS_MISMATCH = "status_mismatch"
PAID_WITHOUT_WEBHOOK = "paid_without_webhook"
WEBHOOK_UNKNOWN_ORDER = "webhook_unknown_order"
LINK_UNCERTAIN = "link_uncertain"
KIND_LABELS = {
    STATUS_MISMATCH: N_("Status differs from the gateway"),
    PAID_WITHOUT_WEBHOOK: N_("Paid, but no webhook arrived"),
    WEBHOOK_UNKNOWN_ORDER: N_("Webhook for an order the dashboard does not know"),
    LINK_UNCERTAIN: N_("Link creation outcome unknown"),
}
#: How far back the database checks look (older drift is history, not work).
LOOKBACK = timedelta(days=30)
#: A link still "creating" after this long crashed mid-call (same rule as services.links.follow).
STUCK_CREATING = timedelta(minutes=2)


@dataclass(frozen=True)
class DriftItem:
    """One disagreement worth a look."""

    kind: str
    payment_pk: int | None
    order_id: str | None
    cache_status: str | None
    gateway_status: str | None
    detail: str
    event_id: int | None = None


#: Live status look-ups one reconciliation may make (they share the gateway's 30-a-minute budget with everyone).
MAX_LIVE_SAMPLE = 200


def find_drift(engine: Engine, actor: Actor, *, client: UPaymentsClient | None = None, sample: int = 50,
               limit: int = 200, progress: Callable[[int, int], None] | None = None,
               stop: threading.Event | None = None) -> list[DriftItem]:
    """Drift of every kind; ``status_mismatch`` only with a ``client`` (live look-ups of ``sample`` payments)."""
    actor = authorize(engine, actor, Action.RECONCILE)
    if isinstance(sample, bool) or not isinstance(sample, int) or sample > MAX_LIVE_SAMPLE:
        raise ValueError(say("Check at most {limit} payments against the gateway at a time.",
                             limit=Count(MAX_LIVE_SAMPLE)))
    items = [*_link_uncertain(engine, limit), *_paid_without_webhook(engine, limit),
             *_webhook_unknown_order(engine, limit)]
    if client is not None and sample > 0:
        items = _status_mismatch(engine, client, sample, progress, stop) + items
    return items


def _since() -> datetime:
    return utcnow() - LOOKBACK


def _link_uncertain(engine: Engine, limit: int) -> list[DriftItem]:
    stuck = utcnow() - STUCK_CREATING
    # One query per link state, each a range of ix_payment_link_state, merged newest first: with the two states
    # OR-ed in one query SQLite walked the whole table in created_at order (seconds at a million payments).
    wanted = ((col(Payment.link_state) == "uncertain"),
              (col(Payment.link_state) == "creating") & (col(Payment.created_at) < stuck))
    with read_session(engine) as session:
        rows = heapq.nlargest(limit, (p for state in wanted for p in session.exec(
            select(Payment).where(col(Payment.verified_at).is_(None), state)  # a verified look-up settled it
            .order_by(col(Payment.created_at).desc()).limit(limit)
        ).all()), key=lambda p: p.created_at)
    return [DriftItem(LINK_UNCERTAIN, p.id, p.order_id, p.status, None,
                      N_("The gateway call creating this link did not answer; re-sync asks the gateway.")
                      if has_lookup_id(p) else
                      N_("The link's creation was not confirmed and it has no gateway id to ask about."))
            for p in rows]


def _paid_without_webhook(engine: Engine, limit: int) -> list[DriftItem]:
    with read_session(engine) as session:
        rows = session.exec(
            select(Payment).where(col(Payment.status) == PaymentStatus.PAID, col(Payment.webhook_received).is_(False),
                                  col(Payment.source) != "demo", col(Payment.created_at) >= _since())
            .order_by(col(Payment.created_at).desc()).limit(limit)
        ).all()
    return [DriftItem(PAID_WITHOUT_WEBHOOK, p.id, p.order_id, p.status, None,
                      N_("Learnt by polling: check that the gateway can reach the webhook URL.")) for p in rows]


def _webhook_unknown_order(engine: Engine, limit: int) -> list[DriftItem]:
    known = exists().where(col(Payment.order_id) == col(WebhookEvent.order_id))
    with read_session(engine) as session:
        rows = session.exec(
            select(WebhookEvent).where(col(WebhookEvent.source) == "webhook", col(WebhookEvent.payment_pk).is_(None),
                                       col(WebhookEvent.processed_at).is_not(None),
                                       col(WebhookEvent.duplicate).is_(False),
                                       col(WebhookEvent.received_at) >= _since(),
                                       or_(col(WebhookEvent.order_id).is_(None), ~known))
            .order_by(col(WebhookEvent.received_at).desc()).limit(limit)
        ).all()
    return [DriftItem(WEBHOOK_UNKNOWN_ORDER, None, e.order_id, None, None,
                      e.error or N_("No cached payment matches this delivery."), event_id=e.id) for e in rows]


def _status_mismatch(engine: Engine, client: UPaymentsClient, sample: int,
                     progress: Callable[[int, int], None] | None, stop: threading.Event | None) -> list[DriftItem]:
    """Ask the gateway about the ``sample`` least recently verified payments that have an id."""
    with Session(engine) as session:
        payments = session.exec(
            select(Payment).where(has_lookup_id_clause(), col(Payment.created_at) >= _since())
            .order_by(col(Payment.verified_at).is_not(None), col(Payment.verified_at), col(Payment.created_at).desc())
            .limit(sample)
        ).all()
    found: list[DriftItem] = []
    for index, payment in enumerate(payments):
        if stop is not None and stop.is_set():
            break
        try:
            tx = lookup(client, lookup_ids(payment))
        except gw.RateLimited as exc:
            log.info("drift check stopped by the rate limit after %d look-ups: %s", index, exc)
            break
        except (gw.GatewayError, CannotLookUp) as exc:
            found.append(DriftItem(STATUS_MISMATCH, payment.id, payment.order_id, payment.status, None,
                                   say("The gateway could not confirm this payment: {problem}",
                                       problem=sentence_of(exc))))
            continue
        finally:
            if progress is not None:
                progress(index + 1, len(payments))
        gateway_status = result_to_status(tx.result, tx.status).value
        problem = _binding(payment, tx.amount_fils, tx.currency, tx.merchant_order_id)
        if gateway_status != payment.status or problem:
            detail = problem or (
                say("The cache says paid but the gateway does not; investigate before refunding or shipping.")
                if payment.status == PaymentStatus.PAID else say("Re-sync applies the gateway's status."))
            found.append(DriftItem(STATUS_MISMATCH, payment.id, payment.order_id, payment.status, gateway_status,
                                   detail))
    return found


def _binding(payment: Payment, amount_fils: int | None, currency: str | None, order_id: str | None) -> str | None:
    if order_id and order_id != payment.order_id:
        return say("The gateway answers for order {order}.", order=order_id)
    if amount_fils is not None and amount_fils != payment.amount_fils:
        return say("The gateway's amount ({gateway} fils) differs from the cache ({cache} fils).",
                   gateway=Count(amount_fils), cache=Count(payment.amount_fils))
    if currency and currency.upper() != payment.currency:
        return say("The gateway's currency ({gateway}) differs from the cache ({cache}).", gateway=currency,
                   cache=payment.currency)
    return None


def resync(engine: Engine, client: UPaymentsClient, actor: Actor, *, payment_pk: int) -> UpsertResult:
    """Look one payment up and apply the answer; audited as ``resync`` with the status before and after."""
    actor = authorize(engine, actor, Action.RECONCILE)
    tx = lookup_payment(engine, client, payment_pk)
    with session_scope(engine) as session:
        result = apply_lookup(session, tx, source="resync")
        assert result.payment is not None
        record(session, actor=actor.email, action="resync", target=f"payment:{result.payment.order_id}",
               before={"status": result.status_before},
               after={"status": result.status_after, "result": tx.result, "problem": result.problem})
    return result
