"""Browser: finance refunds a split demo payment — UPayments refunds nothing and asks per vendor; finance sets the
amounts and sends; the refund is initiated (§18 F4)."""

from __future__ import annotations

import re
import sqlite3

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, col, select

from services.db import make_engine, sqlite_url
from services.models import Payment, Refund
from tests.e2e.conftest import DemoStack, login, wait_idle

pytestmark = pytest.mark.e2e


def _split_payment(stack: DemoStack) -> Payment:
    """A demo payment the sandbox holds as split between vendors, paid and untouched in the dashboard cache."""
    with sqlite3.connect(stack.data_dir / "sandbox.db") as gateway:
        orders = [r[0] for r in gateway.execute(
            "SELECT merchant_order_id FROM payment WHERE extra_merchants IS NOT NULL AND amount_fils >= 2000")]
    engine = make_engine(sqlite_url(stack.data_dir / "souq.db"))
    try:
        with Session(engine) as session:
            payment = session.exec(select(Payment).where(
                col(Payment.order_id).in_(orders), col(Payment.status) == "paid",
                col(Payment.upay_order_id).is_not(None), col(Payment.id).not_in(select(Refund.payment_pk)),
                col(Payment.amount_fils) <= 50_000)).first()
    finally:
        engine.dispose()
    assert payment is not None, "the demo history has no untouched split payment"
    return payment


def test_finance_completes_a_split_payment_refund_per_vendor(page: Page, demo_stack: DemoStack) -> None:
    payment = _split_payment(demo_stack)
    login(page, demo_stack, "finance@souq.demo")
    page.goto(f"{demo_stack.app}/refunds?payment={payment.order_id}")
    wait_idle(page)
    page.get_by_text("Partial amount", exact=True).click()
    page.get_by_label("Partial amount (KWD)").fill("1.500")
    page.get_by_role("button", name="Review refund").click()
    page.get_by_test_id("stDialog").get_by_role("button", name="Confirm refund").click()
    expect(page.get_by_test_id("stAlertContentWarning").filter(
        has_text=re.compile(r"split between vendors: UPayments refunded nothing"))).to_be_visible(timeout=30_000)
    expect(page.get_by_text("split payment: set the amount to refund from each vendor")).to_be_visible()
    expect(page.get_by_test_id("stTable").first).to_contain_text("Needs per-vendor split")
    page.get_by_label(re.compile(r"^From KW91")).fill("1")
    page.get_by_label(re.compile(r"^From KW31")).fill("0.500")
    page.screenshot(path=str(demo_stack.data_dir / "refunds-split.png"), full_page=True)
    page.get_by_role("button", name="Send per-vendor refund").click()
    expect(page.get_by_text(re.compile(r"Refund of 1\.500 KWD initiated with UPayments"))).to_be_visible(
        timeout=30_000)
    expect(page.get_by_test_id("stTable").first).to_contain_text("Initiated")
    page.screenshot(path=str(demo_stack.data_dir / "refunds-split-sent.png"), full_page=True)
