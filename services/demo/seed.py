"""Demo mode: staff for every role, and the dashboard cache filled from the same generator the sandbox uses.

There is no list endpoint to import through (and 20,000 status look-ups at 30 a minute would take 11 hours), so
both sides generate identical payments from :mod:`services.demo.data`; a status look-up of any demo payment then
agrees with the cache.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from services import audit
from services.db import session_scope
from services.demo.data import DemoPayment, DemoRefund, generate, regular_payments
from services.gateway.vocab import result_to_status
from services.models import METHOD_FAMILY, Deposit, Payment, PaymentStatus, Refund, RefundState, Staff, SyncState
from services.permissions import Role
from services.refund_state import refund_status
from services.settlements.schedule import demo_held_capture_day, deposit_time
from services.sync.state import LAST_SYNC
from services.timeutil import local_day, to_kuwait, utcnow


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: Role | None  # None: can log in at the identity provider but is not on the staff list


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin@souq.demo", "Amal Admin", Role.ADMIN),
    DemoUser("finance@souq.demo", "Fahad Finance", Role.FINANCE),
    DemoUser("finance2@souq.demo", "Noura Finance", Role.FINANCE),
    DemoUser("sales@souq.demo", "Sara Sales", Role.SALES),
    DemoUser("viewer@souq.demo", "Victor Viewer", Role.VIEWER),
    DemoUser("stranger@example.com", "Sam Stranger", None),
)
_SEEDED_KEY = "demo_seeded"


def seed_staff(engine: Engine) -> None:
    """Put every demo user that has a role on the staff list (idempotent)."""
    with session_scope(engine) as session:
        for user in DEMO_USERS:
            if user.role is None or session.get(Staff, user.email) is not None:
                continue
            session.add(Staff(email=user.email, name=user.name, role=user.role, added_by="demo"))
            audit.record(session, actor="demo", action="staff_added", target=user.email,
                         after={"role": user.role.value, "name": user.name})


def _payment_row(demo: DemoPayment, now: datetime) -> dict[str, object]:
    status = result_to_status(demo.result)
    refunded = sum(r.amount_fils for r in demo.refunds)  # demo refunds are initiated or refunded: all counted
    return {
        "order_id": demo.merchant_order_id, "track_id": demo.track_id, "upay_order_id": demo.upay_order_id,
        "payment_id": demo.payment_id, "invoice_id": demo.invoice_id, "session_id": demo.session_id,
        "reference": demo.reference, "amount_fils": demo.amount_fils, "currency": demo.currency,
        "status": status.value, "result": demo.result, "method": demo.method,
        "method_family": METHOD_FAMILY.get(demo.method), "customer_name": demo.customer_name,
        "customer_phone": demo.customer_phone, "customer_email": demo.customer_email,
        "description": demo.description, "language": "en", "source": "demo",
        "created_at": demo.created_at, "local_day": local_day(demo.created_at),
        "paid_at": demo.created_at if status == PaymentStatus.PAID else None, "updated_at": now,
        "verified_at": now, "refunded_fils": refunded, "webhook_received": True,
        "refund_state": refund_status(status, demo.amount_fils, refunded),
        "raw": json.dumps({"source": "demo", "track_id": demo.track_id, "result": demo.result}),
    }


def _refund_row(payment_pk: int, refund: DemoRefund, now: datetime) -> dict[str, object]:
    return {
        "payment_pk": payment_pk, "idempotency_key": f"demo-{refund.refund_order_id}",
        "amount_fils": refund.amount_fils, "currency": "KWD", "reason": "customer_request",
        "state": RefundState.REFUNDED if refund.refunded_at else RefundState.INITIATED, "requested_by": "demo",
        "gateway_order_id": refund.gateway_order_id, "gateway_refund_order_id": refund.refund_order_id,
        "created_at": refund.created_at, "local_day": local_day(refund.created_at), "sent_at": refund.created_at,
        "refunded_at": refund.refunded_at, "updated_at": now,
    }


def _deposit_rows(demos: list[DemoPayment], ids: dict[str, int], anchor: date, now: datetime,
                  invoice_base: str | None) -> list[dict[str, object]]:
    """What the demo sandbox's get-deposit-status says now about each captured demo payment (the same rule:
    17:00 Kuwait on the next business day, the held day excepted), as if the poller had asked."""
    held = demo_held_capture_day(anchor)
    rows: list[dict[str, object]] = []
    for demo in demos:
        captured_on = to_kuwait(demo.created_at).date()
        if demo.result != "CAPTURED" or captured_on == held or demo.merchant_order_id not in ids:
            continue
        when = deposit_time(captured_on)
        if when <= now:
            rows.append({"payment_pk": ids[demo.merchant_order_id], "deposited": True, "deposited_at": when,
                         "invoice_url": f"{invoice_base.rstrip('/')}/deposit/{demo.track_id}" if invoice_base
                         else None, "checked_at": now, "checks": 1})
    return rows


def seed_payments(engine: Engine, anchor: date, *, count: int = 20_000, days: int = 90,
                  until: datetime | None = None, deposit_invoice_base: str | None = None) -> int:
    """Write the generated demo history (and, with ``until``, the anchor day so far) into the cache once per
    arguments; returns how many payments were added. Deposits already made by the sandbox's clock are written
    too (``deposit_invoice_base``: the sandbox's URL, for their invoice links)."""
    marker = f"{anchor.isoformat()}:{count}:{days}:{until.isoformat() if until else ''}"
    with Session(engine) as session:
        done = session.get(SyncState, _SEEDED_KEY)
        if done is not None and done.value == marker:
            return 0
        existing = set(session.exec(select(Payment.order_id)).all())
    now = utcnow()
    history = itertools.chain(generate(anchor, days=days, count=count, until=until),
                              regular_payments(anchor, days=days))
    demos = [d for d in history if d.merchant_order_id not in existing]
    with session_scope(engine) as session:
        rows = [_payment_row(demo, now) for demo in demos]
        for start in range(0, len(rows), 5000):
            session.execute(insert(Payment), rows[start:start + 5000])
        wanted = {d.merchant_order_id for d in demos}
        ids = {order: pk for order, pk in session.exec(select(Payment.order_id, Payment.id)) if order in wanted and pk}
        refunds = [_refund_row(ids[d.merchant_order_id], r, now) for d in demos if d.refunds for r in d.refunds]
        if refunds:
            session.execute(insert(Refund), refunds)
        deposits = _deposit_rows(demos, ids, anchor, now, deposit_invoice_base)
        for start in range(0, len(deposits), 5000):
            session.execute(insert(Deposit), deposits[start:start + 5000])
        marker_row = session.get(SyncState, _SEEDED_KEY) or SyncState(key=_SEEDED_KEY, value="")
        marker_row.value, marker_row.updated_at = marker, now
        session.add(marker_row)
        if session.get(SyncState, LAST_SYNC) is None:
            session.add(SyncState(key=LAST_SYNC, value=now.isoformat()))
    return len(demos)
