"""In the browser: a payment made on the gateway arrives by webhook, shows in the inbox; "Sync now" runs a pass."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, col, select

from services.db import make_engine, sqlite_url
from services.gateway import UPaymentsClient
from services.models import Payment
from services.timeutil import local_day, utcnow
from tests.e2e.conftest import DemoStack, login, open_page, wait_idle

pytestmark = pytest.mark.e2e


def _open_link(stack: DemoStack) -> tuple[str, str]:
    """A link-like payment in the app's cache and on the sandbox, not paid yet: (order id, session id)."""
    order_id = f"E2E-SYNC-{time.time_ns() % 10**9}"
    with UPaymentsClient(f"{stack.sandbox}/api/v1/", "jtest123") as client:
        charge = client.charges.create(order_id=order_id, amount_fils=7_250, description="E2E webhook",
                                       return_url=f"{stack.app}/pay/return", cancel_url=f"{stack.app}/pay/cancel",
                                       notification_url=f"{stack.app}/webhooks/upayments")
    assert charge.session_id, "the sandbox gave the charge no session id"
    engine = make_engine(sqlite_url(stack.data_dir / "souq.db"))
    now = utcnow()
    with Session(engine) as session:
        session.add(Payment(order_id=order_id, amount_fils=7_250, status="pending", session_id=charge.session_id,
                            link_url=charge.link, link_state="active", source="link", created_at=now,
                            local_day=local_day(now), created_by="admin@souq.demo"))
        session.commit()
    engine.dispose()
    return order_id, charge.session_id


def _status(stack: DemoStack, order_id: str, *, until: str, timeout: float) -> str:
    """The cached status of ``order_id`` once it is ``until`` or ``timeout`` s have passed."""
    engine = make_engine(sqlite_url(stack.data_dir / "souq.db"))
    deadline = time.monotonic() + timeout
    while True:
        with Session(engine) as session:
            status = session.exec(select(Payment.status).where(col(Payment.order_id) == order_id)).one()
        if status == until or time.monotonic() > deadline:
            engine.dispose()
            return status
        time.sleep(0.2)


def _paid_by_webhook(stack: DemoStack) -> str:
    """A link-like payment in the app's cache, paid on the sandbox; its webhook goes to the running app."""
    order_id, session_id = _open_link(stack)
    done = httpx.post(f"{stack.sandbox}/__sandbox/complete", timeout=30,
                      json={"session_id": session_id, "method": "knet", "wait_webhook": True}).json()
    assert done["webhook"]["delivered"] is True
    assert _status(stack, order_id, until="paid", timeout=30) == "paid", "the webhook was not verified and applied"
    return order_id


def _app_healthy(stack: DemoStack) -> bool:
    try:
        return httpx.get(f"{stack.app}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_payment_made_while_the_dashboard_is_down_is_caught_up_by_sync(demo_stack: DemoStack) -> None:
    """Kill the dashboard, pay meanwhile (its webhook is lost), restart: the sync pass finds the payment."""
    order_id, session_id = _open_link(demo_stack)
    config = f"{demo_stack.sandbox}/__sandbox/config"
    httpx.post(config, json={"webhook_retries": 0}, timeout=10).raise_for_status()  # one attempt, then lost
    try:
        _kill_dashboard(demo_stack)
        done = httpx.post(f"{demo_stack.sandbox}/__sandbox/complete", timeout=30,
                          json={"session_id": session_id, "method": "knet", "wait_webhook": True}).json()
        assert done["webhook"]["delivered"] is False  # nobody was there to take it
        assert _status(demo_stack, order_id, until="paid", timeout=0) == "pending"
        _wait_restarted(demo_stack)
        assert _status(demo_stack, order_id, until="paid", timeout=60) == "paid", "sync did not catch the payment up"
    finally:
        httpx.post(config, json={"webhook_retries": 3}, timeout=10)


def test_after_a_restart_a_deep_link_still_goes_through_the_role_menu(page: Page, demo_stack: DemoStack) -> None:
    """The first page opened after a restart is a deep link to a page the role may not see: the app's own
    per-role menu answers (Streamlit's legacy ``pages/`` folder menu never shows)."""
    login(page, demo_stack, "finance@souq.demo")
    _kill_dashboard(demo_stack)
    _wait_restarted(demo_stack)
    page.goto(f"{demo_stack.app}/audit")
    wait_idle(page)
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name="Refunds", exact=True)).to_be_visible(timeout=30_000)
    expect(nav.get_by_role("link", name="audit", exact=True)).to_have_count(0)
    expect(nav.get_by_role("link", name="app", exact=True)).to_have_count(0)
    expect(page.get_by_text("Audit log is for admins — ask an admin for access.")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame")).to_have_count(0)  # the polite refusal, no audit rows


def _kill_dashboard(stack: DemoStack) -> None:
    """Kill the dashboard process alone (the gateway and the login provider keep running)."""
    os.kill(int((stack.data_dir / "app.pid").read_text()), signal.SIGKILL)
    deadline = time.monotonic() + 20
    while _app_healthy(stack) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _app_healthy(stack)


def _wait_restarted(stack: DemoStack) -> None:
    deadline = time.monotonic() + 90
    while not _app_healthy(stack) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _app_healthy(stack), "the demo launcher did not start the dashboard again"


def test_webhook_shows_verified_in_the_inbox_and_sync_now_runs(page: Page, demo_stack: DemoStack) -> None:
    order_id = _paid_by_webhook(demo_stack)
    login(page, demo_stack, "admin@souq.demo")
    open_page(page, "Webhook inbox", "Webhook inbox")
    wait_idle(page)
    page.get_by_label("Order or track id").fill(order_id)
    page.get_by_label("Order or track id").press("Enter")
    wait_idle(page)
    expect(page.get_by_text("1–1 of 1, newest first", exact=False)).to_be_visible(timeout=30_000)
    page.screenshot(path=str(demo_stack.data_dir / "sync-webhook-inbox.png"), full_page=True)

    open_page(page, "Reconciliation", "Reconciliation")
    wait_idle(page)
    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_text("Sync finished").or_(page.get_by_text("Sync stopped by the gateway's rate limit"))
           ).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Last sync:", exact=False)).to_be_visible()
    page.screenshot(path=str(demo_stack.data_dir / "sync-reconciliation.png"), full_page=True)
