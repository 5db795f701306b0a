"""In the browser: a payment made on the gateway arrives by webhook, shows in the inbox; "Sync now" runs a pass."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, col, select

from services.db import make_engine, sqlite_url
from services.gateway import UPaymentsClient
from services.models import Payment
from services.timeutil import local_day, utcnow
from tests.e2e.conftest import DemoStack, login, wait_idle

pytestmark = pytest.mark.e2e


def _paid_by_webhook(stack: DemoStack) -> str:
    """A link-like payment in the app's cache, paid on the sandbox; its webhook goes to the running app."""
    order_id = f"E2E-SYNC-{time.time_ns() % 10**9}"
    with UPaymentsClient(f"{stack.sandbox}/api/v1/", "jtest123") as client:
        charge = client.charges.create(order_id=order_id, amount_fils=7_250, description="E2E webhook",
                                       return_url=f"{stack.app}/pay/return", cancel_url=f"{stack.app}/pay/cancel",
                                       notification_url=f"{stack.app}/webhooks/upayments")
    engine = make_engine(sqlite_url(stack.data_dir / "souq.db"))
    now = utcnow()
    with Session(engine) as session:
        session.add(Payment(order_id=order_id, amount_fils=7_250, status="pending", session_id=charge.session_id,
                            link_url=charge.link, link_state="active", source="link", created_at=now,
                            local_day=local_day(now), created_by="admin@souq.demo"))
        session.commit()
    import httpx

    done = httpx.post(f"{stack.sandbox}/__sandbox/complete", timeout=30,
                      json={"session_id": charge.session_id, "method": "knet", "wait_webhook": True}).json()
    assert done["webhook"]["delivered"] is True
    deadline = time.monotonic() + 30
    status = "pending"
    while status != "paid" and time.monotonic() < deadline:
        with Session(engine) as session:
            status = session.exec(select(Payment.status).where(col(Payment.order_id) == order_id)).one()
        time.sleep(0.2)
    engine.dispose()
    assert status == "paid", "the webhook was not verified and applied"
    return order_id


def test_webhook_shows_verified_in_the_inbox_and_sync_now_runs(page: Page, demo_stack: DemoStack) -> None:
    order_id = _paid_by_webhook(demo_stack)
    login(page, demo_stack, "admin@souq.demo")
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Webhook inbox", exact=True).click()
    expect(page.get_by_role("heading", name="Webhook inbox")).to_be_visible(timeout=30_000)
    wait_idle(page)
    page.get_by_label("Order or track id").fill(order_id)
    page.get_by_label("Order or track id").press("Enter")
    wait_idle(page)
    expect(page.get_by_text("1–1 of 1, newest first", exact=False)).to_be_visible(timeout=30_000)
    page.screenshot(path=str(demo_stack.data_dir / "sync-webhook-inbox.png"), full_page=True)

    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Reconciliation", exact=True).click()
    expect(page.get_by_role("heading", name="Reconciliation")).to_be_visible(timeout=30_000)
    wait_idle(page)
    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_text("Sync finished").or_(page.get_by_text("Sync stopped by the gateway's rate limit"))
           ).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Last sync:", exact=False)).to_be_visible()
    page.screenshot(path=str(demo_stack.data_dir / "sync-reconciliation.png"), full_page=True)
