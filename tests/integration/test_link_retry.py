"""Issue 11 item 4: a link declined and then paid ("Try again" on the hosted page) converges to paid.

The customer's webhooks are lost (the link's notification URL points at a closed port): only the sync pass
can learn that the second attempt, with a new track id on the same session, was captured.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from sandbox.server import RunningSandbox
from services import sync
from services.db import session_scope
from services.gateway import UPaymentsClient
from services.links import LinkRequest, create_link, new_idempotency_key
from services.models import Payment
from services.permissions import SYSTEM, Role
from services.timeutil import utcnow
from tests.factories import make_db, make_staff

DROPPED = SimpleNamespace(public_url="http://127.0.0.1:9/", link_expiry_minutes=60)  # webhooks go nowhere
DECLINED_KNET = "8888880000000002"
GOOD_KNET = "8888880000000001"


@pytest.fixture
def desk(sandbox: RunningSandbox, tmp_path) -> Iterator[tuple[Engine, UPaymentsClient]]:
    sandbox.configure(status_limit_per_minute=600, webhook_retries=0, webhook_backoff_seconds=0.05)
    with UPaymentsClient(sandbox.api_base, "jtest123", timeout=5) as client:
        yield make_db(tmp_path), client


def _row(engine: Engine, pk: int) -> Payment:
    with Session(engine) as session:
        payment = session.get(Payment, pk)
        assert payment is not None
        return payment


def _new_link(engine: Engine, client: UPaymentsClient) -> Payment:
    sales = make_staff(engine, Role.SALES)
    outcome = create_link(engine, client, sales, settings_like=DROPPED, request=LinkRequest(
        idempotency_key=new_idempotency_key(), amount="12.500", description="Mug", customer_phone="+96550000000"))
    assert outcome.state == "active", outcome.message
    return _row(engine, outcome.payment_pk)


def _pay_on_the_hosted_page(sandbox: RunningSandbox, link_url: str, card: str) -> str:
    """Open the link, pick KNET, submit ``card``; returns the result word of the redirect (not followed)."""
    with httpx.Client(timeout=10) as browser:
        page = browser.get(link_url, follow_redirects=True)
        assert page.status_code == 200
        session_path = page.url.path.rstrip("/")
        assert browser.get(f"{sandbox.url}{session_path}/knet").status_code == 200
        done = browser.post(f"{sandbox.url}{session_path}/knet",
                            data={"action": "pay", "card_number": card, "pin": "1234"})
    assert done.status_code == 303
    return httpx.URL(done.headers["location"].replace("?", "&").replace("&", "?", 1)).params["result"]


def test_declined_then_paid_link_becomes_paid_with_the_new_track_id(sandbox, desk) -> None:
    engine, client = desk
    link = _new_link(engine, client)
    assert link.id is not None and link.link_url
    assert _pay_on_the_hosted_page(sandbox, link.link_url, DECLINED_KNET) == "NOT CAPTURED"
    sync.sync_pending(engine, client, actor=SYSTEM, event_min_age_s=0)
    failed = _row(engine, link.id)
    assert failed.status == "failed" and failed.track_id
    # the customer's "Try again": same session, a new attempt, a new track id; its webhook is lost too
    assert _pay_on_the_hosted_page(sandbox, link.link_url, GOOD_KNET) == "CAPTURED"
    report = sync.sync_pending(engine, client, actor=SYSTEM, event_min_age_s=0)
    paid = _row(engine, link.id)
    assert (paid.status, report.changed) == ("paid", 1)
    assert paid.track_id and paid.track_id != failed.track_id
    gateway = client.payments.status(track_id=paid.track_id)
    assert gateway.result == "CAPTURED" and gateway.merchant_order_id == paid.order_id


def test_a_failed_link_whose_validity_ended_long_ago_is_no_longer_polled(sandbox, desk) -> None:
    engine, client = desk
    link = _new_link(engine, client)
    assert link.id is not None and link.link_url
    assert _pay_on_the_hosted_page(sandbox, link.link_url, DECLINED_KNET) == "NOT CAPTURED"
    sync.sync_pending(engine, client, actor=SYSTEM, event_min_age_s=0)
    assert _row(engine, link.id).status == "failed"
    # still valid: it is followed (one look-up per pass) …
    assert sync.sync_pending(engine, client, actor=SYSTEM, event_min_age_s=0).checked == 1
    with session_scope(engine) as session:
        payment = session.get(Payment, link.id)
        assert payment is not None
        payment.expires_at = utcnow() - timedelta(days=1)
        session.add(payment)
    # … and once its validity (plus the grace period) is over, it costs no look-up any more
    assert sync.sync_pending(engine, client, actor=SYSTEM, event_min_age_s=0).checked == 0
    assert _row(engine, link.id).status == "failed"
