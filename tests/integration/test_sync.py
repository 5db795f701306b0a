"""Webhooks, redirects, polling and reconciliation end to end: real sandbox, real receiver, real HTTP, real SQLite.

The dashboard's routes run in-process under uvicorn on a free port (``receiver``); the sandbox posts its webhooks
there, and the dashboard verifies each one with a status look-up back to the sandbox.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.applications import Starlette

from dashboard import runtime
from sandbox.server import serve_app_in_thread
from services import sync
from services.audit import verify
from services.db import sqlite_url
from services.gateway import UPaymentsClient, factory, parse_redirect
from services.models import AuditEntry, Payment, PaymentEvent, WebhookEvent
from services.permissions import SYSTEM, Role
from services.sync import reconcile
from services.sync import state as syncstate
from services.timeutil import utcnow
from tests.factories import make_payment, make_staff

CLOSED_URL = "http://127.0.0.1:9/webhooks/upayments"  # nothing listens here: the gateway's webhook fails
_orders = itertools.count(1)


@dataclass
class Receiver:
    """The dashboard's routes on a loopback port, the engine and client they use, and the sandbox behind them."""

    url: str
    engine: Engine
    client: UPaymentsClient
    sandbox: Any

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/webhooks/upayments"

    def complete(self, payment: Payment, outcome: str = "captured", method: str = "knet") -> dict[str, Any]:
        """Pay (or decline) on the sandbox; returns once its webhook was answered (or failed)."""
        return dict(self.sandbox.complete(payment.session_id, method=method, outcome=outcome, wait_webhook=True))


@pytest.fixture
def receiver(sandbox, tmp_path, monkeypatch) -> Iterator[Receiver]:
    from dashboard import routes

    sandbox.configure(status_limit_per_minute=600, webhook_retries=0, webhook_backoff_seconds=0.05)
    monkeypatch.setenv("SOUQ_DATABASE_URL", sqlite_url(tmp_path / "dash.db"))
    monkeypatch.setenv("SOUQ_GATEWAY_URL", sandbox.api_base)
    monkeypatch.setenv("SOUQ_GATEWAY_TOKEN", "jtest123")
    monkeypatch.setenv("SOUQ_ENVIRONMENT", "sandbox")
    monkeypatch.setenv("SOUQ_STATUS_RATE_PER_MINUTE", "600")
    monkeypatch.setenv("SOUQ_WEBHOOK_MAX_BYTES", "2048")
    runtime.reset()
    with serve_app_in_thread(Starlette(routes=routes.routes()), lifespan="off", name="receiver") as url:
        client = factory.shared_client(runtime.settings())  # the client the webhook route uses: one limiter
        try:
            yield Receiver(url, runtime.engine(), client, sandbox)
        finally:
            sync.wait_idle(30)
    runtime.engine().dispose()
    runtime.reset()


def charge(rx: Receiver, *, amount_fils: int = 12_500, notify: str | None = None, **fields: Any) -> Payment:
    """A hosted-page charge at the sandbox plus its cache row, as the links service makes them."""
    order_id = f"SYNC-{next(_orders):04d}-{time.time_ns() % 10**9}"
    result = rx.client.charges.create(
        order_id=order_id, amount_fils=amount_fils, description="Test order", return_url=f"{rx.url}/pay/return",
        cancel_url=f"{rx.url}/pay/cancel", notification_url=notify or rx.webhook_url)
    return make_payment(rx.engine, order_id=order_id, amount_fils=amount_fils, status="pending", method=None,
                        session_id=result.session_id, link_url=result.link, link_state="active", source="link",
                        **fields)


def row(engine: Engine, pk: int | None) -> Payment:
    with Session(engine) as session:
        payment = session.get(Payment, pk)
        assert payment is not None
        return payment


def events(engine: Engine) -> list[WebhookEvent]:
    with Session(engine) as session:
        return list(session.exec(select(WebhookEvent).order_by(col(WebhookEvent.id))).all())


def timeline(engine: Engine, pk: int | None) -> list[PaymentEvent]:
    with Session(engine) as session:
        return list(session.exec(select(PaymentEvent).where(col(PaymentEvent.payment_pk) == pk)
                                 .order_by(col(PaymentEvent.id))).all())


def post(rx: Receiver, body: bytes, content_type: str = "application/x-www-form-urlencoded") -> httpx.Response:
    return httpx.post(rx.webhook_url, content=body, headers={"Content-Type": content_type}, timeout=10)


def body_of(redirect_url: str) -> bytes:
    """The webhook body the gateway sends for an attempt: the same keys as its redirect (§10)."""
    return urlencode(parse_redirect(redirect_url).raw).encode()


# ---------------------------------------------------------------- webhooks


def test_payment_completed_on_the_gateway_is_paid_in_the_cache_via_its_webhook(receiver) -> None:
    payment = charge(receiver)
    done = receiver.complete(payment)
    assert done["webhook"]["delivered"] is True  # our route answered 2xx
    assert sync.wait_idle(10)
    paid = row(receiver.engine, payment.id)
    assert (paid.status, paid.track_id, paid.webhook_received) == ("paid", done["track_id"], True)
    assert paid.method == "knet" and paid.verified_at is not None and paid.paid_at is not None
    [event] = events(receiver.engine)
    assert (event.payment_pk, event.error, event.result, event.duplicate) == (payment.id, None, "CAPTURED", False)
    assert event.processed_at is not None and event.order_id == payment.order_id
    assert [e.kind for e in timeline(receiver.engine, payment.id)] == ["status", "webhook"]


def test_spoofed_captured_webhook_for_an_unpaid_payment_changes_nothing(receiver) -> None:
    payment = charge(receiver, notify=CLOSED_URL)
    declined = receiver.complete(payment, outcome="declined")  # its real webhook never reaches us
    spoof = urlencode({"result": "CAPTURED", "track_id": declined["track_id"], "order_id": payment.order_id,
                       "requested_order_id": payment.order_id, "payment_id": "999", "payment_type": "knet"})
    assert post(receiver, spoof.encode()).status_code == 200
    fabricated = urlencode({"result": "CAPTURED", "track_id": "FAKE" * 8, "order_id": payment.order_id})
    assert post(receiver, fabricated.encode()).status_code == 200
    assert sync.wait_idle(10)
    after = row(receiver.engine, payment.id)
    assert after.status == "failed" and after.result == "NOT CAPTURED"  # the gateway's word, not the body's
    assert not after.webhook_received and after.paid_at is None
    first, second = events(receiver.engine)
    assert first.payment_pk == payment.id and first.error is not None and "body claims CAPTURED" in first.error
    assert second.payment_pk is None and second.processed_at is not None
    assert second.error is not None and "does not confirm" in second.error
    assert not [e for e in timeline(receiver.engine, payment.id) if (e.detail or "").find('"to": "paid"') >= 0]


def test_duplicate_and_out_of_order_deliveries_are_harmless(receiver) -> None:
    payment = charge(receiver, notify=CLOSED_URL)  # collect the bodies, then deliver them ourselves
    declined = receiver.complete(payment, outcome="declined")
    captured = receiver.complete(payment, outcome="captured")
    old, new = body_of(declined["redirect_url"]), body_of(captured["redirect_url"])
    for body in (new, old, new, old):  # the later attempt first, then the earlier one, then both again
        assert post(receiver, body).json()["success"] is True
        assert sync.wait_idle(10)
    final = row(receiver.engine, payment.id)
    assert (final.status, final.track_id, final.webhook_received) == ("paid", captured["track_id"], True)
    stored = events(receiver.engine)
    assert [e.duplicate for e in stored] == [False, False, True, True]
    assert all(e.processed_at is not None and e.payment_pk == payment.id for e in stored)
    status_changes = [e for e in timeline(receiver.engine, payment.id) if e.kind == "status"]
    assert len(status_changes) == 1  # pending → paid once; the late decline never moved it back


def test_json_webhook_is_accepted_and_verified(receiver) -> None:
    receiver.sandbox.configure(webhook_encoding="json")
    payment = charge(receiver)
    receiver.complete(payment, method="cc")
    assert sync.wait_idle(10)
    [event] = events(receiver.engine)
    assert "json" in (event.content_type or "") and event.error is None
    paid = row(receiver.engine, payment.id)
    assert (paid.status, paid.method, paid.webhook_received) == ("paid", "card", True)


def test_webhook_for_an_order_the_cache_does_not_know_is_drift(receiver) -> None:
    order_id = f"ELSEWHERE-{time.time_ns() % 10**9}"
    created = receiver.client.charges.create(order_id=order_id, amount_fils=5_000, description="Made elsewhere",
                                             return_url=f"{receiver.url}/r", cancel_url=f"{receiver.url}/c",
                                             notification_url=receiver.webhook_url)
    receiver.sandbox.complete(created.session_id, method="knet", outcome="captured", wait_webhook=True)
    assert sync.wait_idle(10)
    [event] = events(receiver.engine)
    assert event.payment_pk is None and event.error is not None and "not in the dashboard's cache" in event.error
    items = reconcile.find_drift(receiver.engine, make_staff(receiver.engine, Role.FINANCE))
    assert [(i.kind, i.order_id) for i in items] == [(reconcile.WEBHOOK_UNKNOWN_ORDER, order_id)]


# ---------------------------------------------------------------- redirect


def test_redirect_is_stored_then_verified_and_a_tampered_one_is_not_trusted(receiver) -> None:
    payment = charge(receiver, notify=CLOSED_URL)
    done = receiver.complete(payment)
    result = sync.apply_redirect(receiver.engine, receiver.client, done["redirect_url"])
    assert result is not None and result.payment is not None
    assert (result.status_before, result.status_after, result.payment.order_id) == ("pending", "paid", payment.order_id)
    assert not row(receiver.engine, payment.id).webhook_received  # a redirect is not a webhook

    other = charge(receiver, notify=CLOSED_URL)
    declined = receiver.complete(other, outcome="declined")
    tampered = declined["redirect_url"].replace("NOT%20CAPTURED", "CAPTURED").replace("NOT+CAPTURED", "CAPTURED")
    assert parse_redirect(tampered).result == "CAPTURED"
    sync.apply_redirect(receiver.engine, receiver.client, tampered)
    assert row(receiver.engine, other.id).status == "failed"
    assert [e.source for e in events(receiver.engine)] == ["redirect", "redirect"]


# ---------------------------------------------------------------- polling


def test_killed_app_missed_the_webhook_and_the_sync_pass_catches_up(receiver) -> None:
    payment = charge(receiver, notify=CLOSED_URL)  # the dashboard was down when the gateway called
    done = receiver.complete(payment)
    assert done["webhook"]["delivered"] is False
    untouched = charge(receiver, notify=CLOSED_URL)
    assert row(receiver.engine, payment.id).status == "pending"
    seen: list[tuple[int, int]] = []
    report = sync.sync_pending(receiver.engine, receiver.client, actor=SYSTEM,
                               progress=lambda d, t: seen.append((d, t)))
    assert (report.checked, report.changed, report.errors, report.rate_limited) == (2, 1, 0, False)
    assert seen == [(1, 2), (2, 2)]
    caught = row(receiver.engine, payment.id)
    assert (caught.status, caught.track_id, caught.webhook_received) == ("paid", done["track_id"], False)
    assert row(receiver.engine, untouched.id).status == "pending"
    assert syncstate.get_time(receiver.engine) is not None
    items = reconcile.find_drift(receiver.engine, make_staff(receiver.engine, Role.FINANCE))
    assert [(i.kind, i.order_id) for i in items] == [(reconcile.PAID_WITHOUT_WEBHOOK, payment.order_id)]


def test_links_past_their_expiry_are_expired_only_after_the_gateway_says_unpaid(receiver) -> None:
    past = utcnow() - timedelta(minutes=5)
    unpaid = charge(receiver, notify=CLOSED_URL, expires_at=past)
    paid = charge(receiver, notify=CLOSED_URL, expires_at=past)
    receiver.complete(paid)
    report = sync.sync_pending(receiver.engine, receiver.client, actor=SYSTEM)
    assert (report.expired, report.checked) == (1, 2)
    assert row(receiver.engine, unpaid.id).status == "expired"
    assert row(receiver.engine, paid.id).status == "paid"
    moves = [e.detail for e in timeline(receiver.engine, unpaid.id) if e.kind == "status"]
    assert len(moves) == 1 and '"to": "expired"' in (moves[0] or "") and '"source": "expiry"' in (moves[0] or "")


def test_rate_limit_from_the_gateway_is_reported_not_a_crash(receiver) -> None:
    payment = charge(receiver, notify=CLOSED_URL)
    receiver.complete(payment)
    receiver.sandbox.set_faults(rate_limit=True, retry_after=30)
    report = sync.sync_pending(receiver.engine, receiver.client, actor=SYSTEM)
    assert report.rate_limited and report.retry_after == 30 and report.checked == 0
    assert row(receiver.engine, payment.id).status == "pending"
    assert syncstate.get_time(receiver.engine) is None
    receiver.sandbox.clear_faults()
    assert sync.sync_pending(receiver.engine, receiver.client, actor=SYSTEM).changed == 1
    assert row(receiver.engine, payment.id).status == "paid"


def test_webhook_arriving_while_rate_limited_waits_for_the_next_pass(receiver) -> None:
    payment = charge(receiver, notify=CLOSED_URL)
    done = receiver.complete(payment)
    receiver.sandbox.set_faults(rate_limit=True, retry_after=30)
    assert post(receiver, body_of(done["redirect_url"])).status_code == 200
    assert sync.wait_idle(10)
    [event] = events(receiver.engine)
    assert event.processed_at is None and event.error is not None and "429" in event.error
    receiver.sandbox.clear_faults()
    report = sync.sync_pending(receiver.engine, receiver.client, event_min_age_s=0, actor=SYSTEM)
    assert report.events == 1 and report.changed >= 1
    assert row(receiver.engine, payment.id).status == "paid" and row(receiver.engine, payment.id).webhook_received


# ---------------------------------------------------------------- reconciliation


def test_live_drift_check_and_audited_resync(receiver) -> None:
    payment = charge(receiver, notify=CLOSED_URL)
    receiver.complete(payment)
    agreeing = charge(receiver, notify=CLOSED_URL)
    finance = make_staff(receiver.engine, Role.FINANCE, "fin@shop.test")
    items = reconcile.find_drift(receiver.engine, finance, client=receiver.client, sample=10)
    mismatches = [i for i in items if i.kind == reconcile.STATUS_MISMATCH]
    assert [(i.order_id, i.cache_status, i.gateway_status) for i in mismatches] == [
        (payment.order_id, "pending", "paid")]
    assert agreeing.order_id not in {i.order_id for i in items}
    result = reconcile.resync(receiver.engine, receiver.client, finance, payment_pk=mismatches[0].payment_pk or 0)
    assert (result.status_before, result.status_after) == ("pending", "paid")
    with Session(receiver.engine) as session:
        [entry] = session.exec(select(AuditEntry)).all()
    assert (entry.actor, entry.action, entry.target) == ("fin@shop.test", "resync", f"payment:{payment.order_id}")
    assert '"status":"pending"' in (entry.before or "") and '"status":"paid"' in (entry.after or "")
    assert verify(receiver.engine).ok
    after = reconcile.find_drift(receiver.engine, finance, client=receiver.client, sample=10)
    assert not [i for i in after if i.kind == reconcile.STATUS_MISMATCH]


def test_reprocess_from_the_inbox_verifies_again_and_is_audited(receiver) -> None:
    payment = charge(receiver, notify=CLOSED_URL)
    done = receiver.complete(payment)
    receiver.sandbox.set_faults(rate_limit=True, retry_after=30)
    post(receiver, body_of(done["redirect_url"]))
    assert sync.wait_idle(10)
    receiver.sandbox.clear_faults()
    [event] = events(receiver.engine)
    assert event.id is not None
    admin = make_staff(receiver.engine, Role.ADMIN, "boss@shop.test")
    outcome = sync.process_event(receiver.engine, receiver.client, event.id, actor=admin)
    assert (outcome.verified, outcome.claim_confirmed, outcome.status_after) == (True, True, "paid")
    with Session(receiver.engine) as session:
        [entry] = session.exec(select(AuditEntry)).all()
    assert (entry.action, entry.target) == ("reprocess_webhook", f"webhook:{event.id}")
    assert [e.actor for e in timeline(receiver.engine, payment.id) if e.kind == "webhook"] == ["boss@shop.test"]
