"""Helpers shared by the refund integration tests (no tests here): a payment captured at the sandbox and cached."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.db import session_scope
from services.gateway import Customer, Product, UPaymentsClient
from services.ingest import observation_from_transaction, upsert
from services.models import Payment, Refund


def client_for(api_base: str, *, timeout: float = 5.0) -> UPaymentsClient:
    """A real client for the sandbox; check-refund look-ups retry quickly."""
    return UPaymentsClient(api_base, "jtest123", timeout=timeout, connect_timeout=2.0, max_retries=2,
                           backoff_base=0.01, status_rate_per_minute=800)


def captured_payment(engine: Engine, sandbox: Any, client: UPaymentsClient, amount_fils: int,
                     method: str = "knet") -> Payment:
    """Charge at the sandbox, pay it on the 'hosted page', verify by status look-up, cache it via ingest."""
    order_id = f"RF{uuid.uuid4().hex[:16].upper()}"
    charge = client.charges.create(
        order_id=order_id, amount_fils=amount_fils, currency="KWD", description="Refund test order",
        return_url="http://localhost/pay/return", cancel_url="http://localhost/pay/cancel",
        notification_url="http://localhost:9/webhooks/upayments",
        customer=Customer(name="Huda Al-Mutairi", email="huda@example.com", mobile="+96550001234"),
        products=[Product(name="Abaya", price_fils=amount_fils, quantity=1)],
    )
    done = sandbox.complete(session_id=charge.session_id, method=method, outcome="captured", wait_webhook=False)
    tx = client.payments.status(track_id=done["track_id"])
    with session_scope(engine) as session:
        result = upsert(session, observation_from_transaction(tx))
        assert result.payment is not None
        assert result.payment.status == "paid" and result.payment.upay_order_id
        pk = result.payment.id
    with Session(engine) as session:
        payment = session.get(Payment, pk)
        assert payment is not None
        return payment


def gateway_refunds(sandbox: Any, payment: Payment) -> list[dict[str, Any]]:
    """Every create-refund the sandbox accepted for this payment (deleted ones included)."""
    refunds: list[dict[str, Any]] = sandbox.payment(payment.order_id)["refunds"]
    return refunds


def references(sandbox: Any, payment: Payment) -> list[str]:
    """The ``reference`` (our idempotency key) of each refund the sandbox holds, in order."""
    return [json.loads(r["request"]).get("reference") for r in gateway_refunds(sandbox, payment)]


def our_refunds(engine: Engine, payment: Payment) -> list[Refund]:
    with Session(engine) as session:
        return list(session.exec(select(Refund).where(col(Refund.payment_pk) == payment.id)
                                 .order_by(col(Refund.id))).all())


def refunded_fils(engine: Engine, payment: Payment) -> int:
    with Session(engine) as session:
        row = session.get(Payment, payment.id)
        assert row is not None
        return row.refunded_fils
