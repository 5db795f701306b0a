"""Settling uncertain refund intents and tracking initiated refunds, both from ``check-refund``.

check-refund lists one element per refund raised on a payment but carries no amount (contract §12.3), so an
unconfirmed intent can only be identified by elimination: elements whose ids match a refund we know are ours;
what is left is the intent. Because at most ONE refund per payment is ever in flight (the intent transaction
refuses a second one), one element left over means the intent reached the gateway, none means it did not.
More than one left over means refunds were made outside the dashboard; such an intent stays ``uncertain`` and
the log says so (a person must look at the UPayments merchant portal).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services import audit
from services.db import session_scope
from services.gateway import RefundStatusItem, UPaymentsClient
from services.gateway import errors as gw
from services.models import Payment, Refund, RefundState
from services.permissions import Action, Actor, authorize
from services.refunds.ledger import COMMITTED, SYSTEM, lock_payment, log, recompute_refunded, snapshot, target
from services.timeutil import as_utc, utcnow

#: A ``sending`` intent older than this is taken to be orphaned by a crash (the client times out long before).
SENDING_STALE_AFTER = timedelta(minutes=2)
#: "Not at the gateway" becomes final only after this long, in case a slow gateway records the refund late.
ABSENT_GRACE = timedelta(seconds=30)
#: Most payments one tracking pass asks about (check-refund is one call per payment).
REFRESH_BATCH = 50


#: Length of a refund's ``refundOrderId`` (§2); its ``orderId`` ends with it (§18 F3).
REFUND_ID_LENGTH = 32


def refund_id_in(order_id: str | None) -> str | None:
    """The ``refundOrderId`` at the end of a refund's own ``orderId`` (§18 F3), or None when it cannot be one."""
    if order_id and len(order_id) > REFUND_ID_LENGTH and order_id[-REFUND_ID_LENGTH:].isalnum():
        return order_id[-REFUND_ID_LENGTH:]
    return None


def _own_id(item: RefundStatusItem, upay_order_id: str | None) -> str | None:
    """The element's own order id; None when absent or when a gateway echoes the payment's id instead."""
    return item.order_id if item.order_id and item.order_id != upay_order_id else None


@dataclass(frozen=True)
class Unit:
    """One refund as the gateway lists it: a single refund, or one vendor's part of a split refund."""

    refund: Refund
    order_id: str | None
    refund_order_id: str | None


def units_of(refund: Refund) -> list[Unit]:
    """The gateway refunds one of ours stands for (a split refund: one per vendor not deleted)."""
    if refund.split_generated:
        return [Unit(refund, g.get("order_id"), g.get("refund_order_id"))
                for g in json.loads(refund.split_generated) if not g.get("deleted")]
    return [Unit(refund, refund.gateway_order_id, refund.gateway_refund_order_id)]


def matches(item: RefundStatusItem, refund: Refund | Unit, upay_order_id: str | None) -> bool:
    """Whether a check-refund element is this refund (or unit): by its own order id, else by the F3 suffix.

    The documented element is only ``{order_id, is_refunded, refunded_date}`` (§18 F2); a ``refund_order_id``
    is used when a gateway happens to send one, never needed.
    """
    units = units_of(refund) if isinstance(refund, Refund) else [refund]
    return any(_matches_unit(item, unit, upay_order_id) for unit in units)


def _matches_unit(item: RefundStatusItem, unit: Unit, upay_order_id: str | None) -> bool:
    if item.refund_order_id and item.refund_order_id == unit.refund_order_id:
        return True
    own = _own_id(item, upay_order_id)
    if own is None:
        return False
    if own == unit.order_id:
        return True
    return bool(unit.refund_order_id and refund_id_in(own) == unit.refund_order_id)


def identifiable(items: Sequence[RefundStatusItem], upay_order_id: str | None) -> bool:
    """True when every element names its own refund (else only their order tells them apart)."""
    return all(_own_id(item, upay_order_id) or item.refund_order_id for item in items)


def at_gateway(refunds: Sequence[Refund]) -> list[Unit]:
    """Our refunds the gateway lists (initiated or refunded; deleted ones drop out), in creation order."""
    ordered = sorted((r for r in refunds if r.state in COMMITTED),
                     key=lambda r: (as_utc(r.sent_at or r.created_at), r.id or 0))
    return [unit for refund in ordered for unit in units_of(refund)]


def bind(items: Sequence[RefundStatusItem], refunds: Sequence[Refund], upay_order_id: str | None
         ) -> dict[int, list[RefundStatusItem]]:
    """Refund id → its check-refund elements (one per unit), from the documented shape alone (§18 F2).

    By the element's own order id or the F3 suffix when the elements carry them; otherwise by creation order,
    and only when the gateway lists exactly as many refunds as we have at the gateway (one-in-flight keeps
    our creation order the gateway's). A refund appears only when every one of its units was found.
    """
    units = at_gateway(refunds)
    found: dict[int, list[RefundStatusItem]] = {}
    if identifiable(items, upay_order_id):
        pairs = [(u, next((i for i in items if _matches_unit(i, u, upay_order_id)), None)) for u in units]
    elif len(items) == len(units):
        pairs = list(zip(units, items, strict=True))
    else:
        return {}
    missing = {u.refund.id for u, item in pairs if item is None}
    for unit, item in pairs:
        if item is not None and unit.refund.id is not None and unit.refund.id not in missing:
            found.setdefault(unit.refund.id, []).append(item)
    return found


def _unmatched(items: Sequence[RefundStatusItem], known: Sequence[Refund], upay_order_id: str | None
               ) -> list[RefundStatusItem]:
    """Elements that are none of ``known`` (our refunds at the gateway): by id, else by creation order."""
    units = at_gateway(known)
    if identifiable(items, upay_order_id):
        return [item for item in items if not any(_matches_unit(item, u, upay_order_id) for u in units)]
    # No ids to tell them apart: the gateway lists refunds oldest first, so ours come first (at most one in
    # flight at a time); fewer elements than ours means one was deleted elsewhere and nothing can be said.
    return list(items[len(units):]) if len(items) >= len(units) else list(items)


def split_parts(refund: Refund) -> int:
    """How many per-vendor refunds a split refund's send asked for (0: not a split send)."""
    if not refund.split_payload:
        return 0
    amounts = json.loads(refund.split_payload).get("amounts") or {}
    return sum(1 for fils in amounts.values() if fils)


def _candidates(session: Session, payment_pk: int | None, stale_before: datetime) -> list[int]:
    stmt = select(Refund.payment_pk).where(
        (col(Refund.state) == RefundState.UNCERTAIN)
        | ((col(Refund.state) == RefundState.SENDING) & (col(Refund.updated_at) <= stale_before))
    )
    if payment_pk is not None:
        stmt = stmt.where(col(Refund.payment_pk) == payment_pk)
    return sorted(set(session.exec(stmt.distinct()).all()))


def settle_uncertain(
    engine: Engine,
    client: UPaymentsClient,
    *,
    actor: Actor,
    payment_pk: int | None = None,
    sending_stale_after: timedelta = SENDING_STALE_AFTER,
    absent_grace: timedelta = ABSENT_GRACE,
) -> int:
    """Settle intents left ``uncertain`` (or ``sending`` after a crash) from the gateway; returns how many settled.

    ``actor``: a staff member with SYNC at this moment, or SYSTEM (background sync, a refund request settling first).
    """
    authorize(engine, actor, Action.SYNC, allow_system=True)
    now = utcnow()
    with Session(engine) as session:
        payments = _candidates(session, payment_pk, now - sending_stale_after)
    settled = 0
    for pk in payments:
        try:
            settled += _settle_payment(engine, client, pk, now - sending_stale_after, now - absent_grace)
        except gw.GatewayError as exc:
            log.warning("could not settle refunds of payment #%s: %s", pk, exc)
    return settled


def _settle_payment(engine: Engine, client: UPaymentsClient, payment_pk: int, stale_before: datetime,
                    absent_before: datetime) -> int:
    with Session(engine) as session:
        payment = session.get(Payment, payment_pk)
    if payment is None or not payment.upay_order_id:
        log.warning("payment #%s has an uncertain refund but no gateway order id to check", payment_pk)
        return 0
    items = client.refunds.check(order_id=payment.upay_order_id)
    with session_scope(engine) as session:
        payment = lock_payment(session, payment_pk)
        refunds = list(session.exec(select(Refund).where(col(Refund.payment_pk) == payment_pk)).all())
        open_ = [r for r in refunds if r.state == RefundState.UNCERTAIN
                 or (r.state == RefundState.SENDING and as_utc(r.updated_at) <= stale_before)]
        if not open_:
            return 0
        if len(open_) > 1:
            log.error("payment %s has %d refunds in flight; cannot tell them apart — settle by hand",
                      payment.order_id, len(open_))
            return 0
        intent = open_[0]
        extra = _unmatched(items, refunds, payment.upay_order_id)
        before = snapshot(intent, payment)
        now = utcnow()
        expected = split_parts(intent)
        if expected and len(extra) == expected:  # a split refund: one element per vendor with an amount
            intent.state = (RefundState.REFUNDED if all(i.is_refunded for i in extra) else RefundState.INITIATED)
            intent.split_generated = json.dumps([
                {"order_id": _own_id(i, payment.upay_order_id), "generated_invoice_id": None,
                 "refund_order_id": i.refund_order_id or refund_id_in(_own_id(i, payment.upay_order_id))}
                for i in extra])
            intent.sent_at = intent.sent_at or now
            dates = [i.refunded_at for i in extra if i.refunded_at]
            intent.refunded_at = max(dates) if intent.state == RefundState.REFUNDED and dates else None
            intent.error = None
            outcome = "the gateway has it"
        elif expected and not extra:
            if as_utc(intent.updated_at) > absent_before:
                return 0
            intent.state, intent.sent_at = RefundState.NEEDS_SPLIT, None
            intent.error = ("The per-vendor refund never reached UPayments (nothing was refunded); set the amounts "
                            "and send it again.")
            outcome = "not at the gateway"
        elif expected:
            intent.error = (f"UPayments lists {len(extra)} refunds this dashboard cannot tell apart from the "
                            f"{expected} per-vendor refunds it sent; check the UPayments portal.")
            session.add(intent)
            return 0
        elif len(extra) == 1:
            found = extra[0]
            intent.state = RefundState.REFUNDED if found.is_refunded else RefundState.INITIATED
            intent.gateway_order_id = _own_id(found, payment.upay_order_id)
            # check-refund carries no refund id (§18 F2); the refund's orderId ends with it (F3)
            intent.gateway_refund_order_id = found.refund_order_id or refund_id_in(intent.gateway_order_id)
            intent.sent_at = intent.sent_at or now
            intent.refunded_at = found.refunded_at if found.is_refunded else None
            intent.error = None
            outcome = "the gateway has it"
        elif not extra:
            if as_utc(intent.updated_at) > absent_before:
                return 0  # too early to conclude the gateway never got it
            intent.state = RefundState.FAILED
            intent.error = "The refund never reached UPayments (nothing was refunded); you can request it again."
            outcome = "not at the gateway"
        else:
            log.error("payment %s: the gateway lists %d refunds we don't know; refund #%s stays uncertain — check "
                      "the UPayments merchant portal", payment.order_id, len(extra), intent.id)
            intent.error = (f"UPayments lists {len(extra)} refunds on this payment that the dashboard did not "
                            "make, so this one cannot be confirmed automatically; check the UPayments portal.")
            session.add(intent)
            return 0
        intent.updated_at = now
        session.add(intent)
        session.flush()
        recompute_refunded(session, payment)
        audit.record(session, actor=SYSTEM, action="refund_settled", target=target(intent, payment),
                     before=before, after=snapshot(intent, payment) | {"outcome": outcome})
    log.info("refund %s settled: %s → %s", intent.id, outcome, intent.state)
    return 1


def refresh_refunds(engine: Engine, client: UPaymentsClient, *, actor: Actor, payment_pk: int | None = None) -> int:
    """Track refunds: settle uncertain ones, then mark initiated ones refunded per check-refund; returns changes.

    ``actor``: a staff member with SYNC at this moment ("Refresh statuses"), or SYSTEM (the background sync).
    """
    actor = authorize(engine, actor, Action.SYNC, allow_system=True)
    changed = settle_uncertain(engine, client, actor=actor, payment_pk=payment_pk)
    with Session(engine) as session:
        stmt = select(Refund.payment_pk).where(col(Refund.state) == RefundState.INITIATED)
        if payment_pk is not None:
            stmt = stmt.where(col(Refund.payment_pk) == payment_pk)
        # Oldest sends first: they are the ones the gateway has most likely executed by now.
        stmt = stmt.group_by(col(Refund.payment_pk)).order_by(func.min(Refund.sent_at), col(Refund.payment_pk))
        pks = list(session.exec(stmt.limit(REFRESH_BATCH)).all())
    for pk in pks:
        try:
            changed += _track_payment(engine, client, pk)
        except gw.GatewayError as exc:
            log.warning("could not check refunds of payment #%s: %s", pk, exc)
    return changed


def _track_payment(engine: Engine, client: UPaymentsClient, payment_pk: int) -> int:
    with Session(engine) as session:
        payment = session.get(Payment, payment_pk)
    if payment is None or not payment.upay_order_id:
        return 0
    items = client.refunds.check(order_id=payment.upay_order_id)
    if not any(item.is_refunded for item in items):
        return 0
    changed = 0
    with session_scope(engine) as session:
        payment = lock_payment(session, payment_pk)
        refunds = list(session.exec(select(Refund).where(col(Refund.payment_pk) == payment_pk)).all())
        bound = bind(items, refunds, payment.upay_order_id)
        for refund in refunds:
            listed = bound.get(refund.id or 0)
            if refund.state != RefundState.INITIATED or not listed or not all(i.is_refunded for i in listed):
                continue
            before = snapshot(refund, payment)
            refund.state, refund.updated_at = RefundState.REFUNDED, utcnow()
            dates = [i.refunded_at for i in listed if i.refunded_at]
            refund.refunded_at = max(dates) if dates else refund.updated_at
            session.add(refund)
            audit.record(session, actor=SYSTEM, action="refund_completed", target=target(refund, payment),
                         before=before, after=snapshot(refund, payment))
            changed += 1
        if changed:
            session.flush()
            recompute_refunded(session, payment)
    return changed
