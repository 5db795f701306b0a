"""Demo mode: staff for every role, and the dashboard cache filled from the same generator the sandbox uses.

There is no list endpoint to import through (and 20,000 status look-ups at 30 a minute would take 11 hours), so
both sides generate identical payments from :mod:`services.demodata`; a status look-up of any demo payment then
agrees with the cache.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from services import audit
from services.db import session_scope
from services.demodata import generate
from services.ingest import status_for
from services.models import METHOD_FAMILY, Payment, Refund, RefundState, Staff, SyncState
from services.permissions import Role
from services.timeutil import local_day, utcnow


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


def seed_payments(engine: Engine, anchor: date, *, count: int = 20_000, days: int = 90) -> int:
    """Write the generated demo history into the cache once per anchor; returns how many payments were added."""
    marker = f"{anchor.isoformat()}:{count}:{days}"
    with Session(engine) as session:
        done = session.get(SyncState, _SEEDED_KEY)
        if done is not None and done.value == marker:
            return 0
    now = utcnow()
    payment_rows: list[dict[str, object]] = []
    refund_specs: list[tuple[str, object]] = []
    for demo in generate(anchor, days=days, count=count):
        status = status_for(demo.result)
        refunded = sum(r.amount_fils for r in demo.refunds)
        payment_rows.append(
            {
                "order_id": demo.merchant_order_id, "track_id": demo.track_id, "upay_order_id": demo.upay_order_id,
                "payment_id": demo.payment_id, "invoice_id": demo.invoice_id, "session_id": demo.session_id,
                "reference": demo.reference, "amount_fils": demo.amount_fils, "currency": demo.currency,
                "status": status.value, "result": demo.result, "method": demo.method,
                "method_family": METHOD_FAMILY.get(demo.method), "customer_name": demo.customer_name,
                "customer_phone": demo.customer_phone, "customer_email": demo.customer_email,
                "description": demo.description, "language": "en", "source": "demo",
                "created_at": demo.created_at, "local_day": local_day(demo.created_at),
                "paid_at": demo.created_at if status == "paid" else None, "updated_at": now, "verified_at": now,
                "refunded_fils": refunded, "webhook_received": True,
                "raw": json.dumps({"source": "demo", "track_id": demo.track_id, "result": demo.result}),
            }
        )
        refund_specs.extend((demo.merchant_order_id, refund) for refund in demo.refunds)
    with session_scope(engine) as session:
        existing = {row[0] for row in session.exec(  # type: ignore[call-overload]
            Payment.__table__.select().with_only_columns(Payment.__table__.c.order_id)  # type: ignore[attr-defined]
        )}
        fresh = [row for row in payment_rows if row["order_id"] not in existing]
        for start in range(0, len(fresh), 5000):
            session.execute(insert(Payment), fresh[start:start + 5000])
        ids = dict(session.execute(  # type: ignore[call-overload]
            Payment.__table__.select().with_only_columns(  # type: ignore[attr-defined]
                Payment.__table__.c.order_id, Payment.__table__.c.id  # type: ignore[attr-defined]
            ).where(Payment.__table__.c.source == "demo")  # type: ignore[attr-defined]
        ).all())
        fresh_orders = {row["order_id"] for row in fresh}
        refunds = [
            {
                "payment_pk": ids[order_id], "idempotency_key": f"demo-{refund.refund_order_id}",  # type: ignore[attr-defined]
                "amount_fils": refund.amount_fils, "currency": "KWD", "reason": "customer_request",  # type: ignore[attr-defined]
                "state": RefundState.REFUNDED if refund.refunded_at else RefundState.INITIATED,  # type: ignore[attr-defined]
                "requested_by": "demo", "gateway_order_id": refund.gateway_order_id,  # type: ignore[attr-defined]
                "gateway_refund_order_id": refund.refund_order_id,  # type: ignore[attr-defined]
                "created_at": refund.created_at, "local_day": local_day(refund.created_at),  # type: ignore[attr-defined]
                "sent_at": refund.created_at, "refunded_at": refund.refunded_at,  # type: ignore[attr-defined]
                "updated_at": now,
            }
            for order_id, refund in refund_specs
            if order_id in fresh_orders
        ]
        if refunds:
            session.execute(insert(Refund), refunds)
        row = session.get(SyncState, _SEEDED_KEY) or SyncState(key=_SEEDED_KEY, value="")
        row.value, row.updated_at = marker, now
        session.add(row)
        session.add(SyncState(key="last_sync_at", value=now.isoformat())) if session.get(
            SyncState, "last_sync_at") is None else None
    return len(fresh)
