"""Asking get-deposit-status about captured payments, within the shared status-look-up budget, and storing it.

The gateway allows 30 status look-ups a minute for the whole merchant (§1.6) and payment confirmations always
come first, so deposit polling runs in the lowest lane (:data:`~services.gateway.Lane.DEPOSIT`): a small share
of the window, taken only while nothing more urgent waits. The budget goes where it matters:

1. only paid payments whose expected deposit day has come (:func:`schedule.last_due_capture_day`);
2. not already known to be deposited (a "Yes" is final);
3. not asked within :data:`RECHECK` (a "not yet" stays true for a while);
4. newest capture first (an old overdue payment is already flagged; fresh ones tell the shop about today).

Only the word ``"Yes"`` means deposited (§18 F11); the amount is the payment's own.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services.db import read_session, session_scope
from services.gateway import DepositStatus, Lane, UPaymentsClient, status_lane
from services.gateway import errors as gw
from services.models import Deposit, Payment, PaymentStatus
from services.permissions import Action, Actor, authorize
from services.sentence import say
from services.settlements.schedule import last_due_capture_day
from services.timeutil import kuwait_today, utcnow

log = logging.getLogger(__name__)

#: How long a "not yet" answer is trusted before the payment is asked about again.
RECHECK = timedelta(minutes=30)
#: How far back the poller looks (older captures stay flagged as overdue without spending the budget).
LOOKBACK_DAYS = 60
#: Seconds a deposit look-up may wait for a slot before the pass ends (the next pass tries again).
SLOT_WAIT = 5.0


@dataclass
class DepositReport:
    """What one pass did."""

    checked: int = 0
    deposited: int = 0
    errors: int = 0
    rate_limited: bool = False


def due_for_check(engine: Engine, *, today: date | None = None, now: datetime | None = None,
                  limit: int = 50) -> list[int]:
    """Payment ids worth a deposit look-up now, newest capture first (see the module's rules)."""
    today = today or kuwait_today()
    now = now or utcnow()
    last_day = last_due_capture_day(today).isoformat()
    first_day = (today - timedelta(days=LOOKBACK_DAYS)).isoformat()
    with read_session(engine) as session:
        rows = session.exec(
            select(Payment.id)
            .outerjoin(Deposit, col(Deposit.payment_pk) == col(Payment.id))
            .where(col(Payment.status) == PaymentStatus.PAID, col(Payment.track_id).is_not(None),
                   col(Payment.local_day) <= last_day, col(Payment.local_day) >= first_day,
                   or_(col(Deposit.payment_pk).is_(None),
                       and_(col(Deposit.deposited).is_(False), col(Deposit.checked_at) < now - RECHECK)))
            .order_by(col(Payment.created_at).desc(), col(Payment.id).desc())
            .limit(limit)
        ).all()
    return [int(pk) for pk in rows if pk is not None]


def record(engine: Engine, payment_pk: int, answer: DepositStatus, *, now: datetime | None = None) -> Deposit:
    """Store one answer; a "Yes" already stored is never turned back into "not yet"."""
    now = now or utcnow()
    with session_scope(engine) as session:
        row = session.get(Deposit, payment_pk) or Deposit(payment_pk=payment_pk, checks=0)
        if not row.deposited:
            row.deposited = answer.deposited
            row.deposited_at = answer.deposited_at if answer.deposited else None
            row.invoice_url = answer.invoice_url if answer.deposited else None
        row.checked_at = now
        row.checks += 1
        session.add(row)
        session.flush()
        session.expunge(row)
    return row


def check_payment(engine: Engine, client: UPaymentsClient, actor: Actor, *, payment_pk: int) -> Deposit:
    """Ask about one payment now (a staff member's "check deposit" or the poller), in the deposit lane."""
    authorize(engine, actor, Action.SYNC, allow_system=True)
    with read_session(engine) as session:
        payment = session.get(Payment, payment_pk)
        track = payment.track_id if payment is not None else None
    if track is None:
        raise ValueError(say("Payment {id} has no track id yet, so its deposit cannot be looked up.", id=payment_pk))
    answer = client.deposits.status(track_id=track, lane=Lane.DEPOSIT, limiter_timeout=SLOT_WAIT)
    return record(engine, payment_pk, answer)


def poll_deposits(engine: Engine, client: UPaymentsClient, *, actor: Actor, limit: int = 20,
                  stop: threading.Event | None = None, today: date | None = None) -> DepositReport:
    """One pass over :func:`due_for_check`; ends early on a rate limit (confirmations own the budget)."""
    authorize(engine, actor, Action.SYNC, allow_system=True)
    report = DepositReport()
    with status_lane(Lane.DEPOSIT):
        for pk in due_for_check(engine, today=today, limit=limit):
            if stop is not None and stop.is_set():
                break
            if client.status_limiter.room(Lane.DEPOSIT) == 0:
                break  # the share is spent for this window; confirmations keep theirs
            try:
                row = check_payment(engine, client, actor, payment_pk=pk)
            except gw.RateLimited:
                report.rate_limited = True
                break
            except (gw.GatewayError, ValueError) as exc:
                report.errors += 1
                log.warning("deposit look-up of payment %s failed: %s", pk, exc)
                continue
            report.checked += 1
            report.deposited += row.deposited
    if report.checked:
        log.info("deposit pass: %d checked, %d deposited", report.checked, report.deposited)
    return report


def deposit_of(engine: Engine, actor: Actor, *, payment_pk: int) -> Deposit | None:
    """What is known about one payment's deposit (None: never asked)."""
    authorize(engine, actor, Action.VIEW_TRANSACTIONS)
    with read_session(engine) as session:
        row = session.get(Deposit, payment_pk)
        if row is not None:
            session.expunge(row)
    return row
