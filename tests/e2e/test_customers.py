"""Browser: sales asks a demo regular to save a card, the customer saves it on the sandbox's page, finance records
consent and charges it for a repeat order (on the customer's page and in analytics), removes it (no longer
chargeable), and a viewer sees masked contact data only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, col, select

from services import analytics, customers
from services.analytics import AnalyticsFilter
from services.db import make_engine, sqlite_url
from services.gateway import UPaymentsClient
from services.models import CardCharge, Payment
from services.permissions import Actor, Role
from services.search import kuwait_today
from tests.e2e.conftest import DemoStack, login, wait_idle

pytestmark = pytest.mark.e2e

HAMAD = "+96560004321"  # a demo regular (services.demodata.REGULARS) with a VISA ending 1111 saved already
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "customers"  # git-ignored


@contextmanager
def _as(browser: Browser, stack: DemoStack, email: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    page = context.new_page()
    login(page, stack, email)
    try:
        yield page
    finally:
        context.close()


def _open_customer(page: Page, stack: DemoStack) -> None:
    page.goto(f"{stack.app}/customers?c={quote(HAMAD)}")
    wait_idle(page)
    expect(page.get_by_role("heading", name="Hamad Al-Mutairi")).to_be_visible(timeout=30_000)


def _card_kpis(stack: DemoStack) -> analytics.Kpis:
    engine = make_engine(sqlite_url(stack.data_dir / "souq.db"))
    try:
        period = analytics.period_for("today", kuwait_today())
        return analytics.kpis(engine, Actor("admin@souq.demo", Role.ADMIN), period,
                              filters=AnalyticsFilter(family="card"))
    finally:
        engine.dispose()


def test_save_a_card_charge_it_remove_it_and_viewer_sees_masked(browser: Browser, page: Page,
                                                                  demo_stack: DemoStack) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    before = _card_kpis(demo_stack)
    # 1. Sales asks the customer to save a card: the add-card link and its WhatsApp / SMS / QR ways out.
    with _as(browser, demo_stack, "sales@souq.demo") as sales:
        _open_customer(sales, demo_stack)
        expect(sales.get_by_text("Saved cards")).to_have_count(0)  # sales may ask, not see or charge
        sales.get_by_role("button", name="Ask to save a card").click()
        wait_idle(sales)
        code = sales.get_by_test_id("stCode").first
        expect(code).to_contain_text("/my-cards?session_id=", timeout=20_000)
        link = code.inner_text().strip()
        expect(sales.get_by_role("link", name="WhatsApp")).to_have_attribute("href", re.compile(r"^https://wa\.me/"
                                                                                                  r"96560004321\?text="))
        sales.screenshot(path=str(SHOTS / "customers-sales-add-card.png"), full_page=True)

    # 2. The customer opens it on their phone and saves a test card on the sandbox's hosted page.
    page.goto(link)
    page.get_by_label("Card number").fill("5123450000000008")
    page.get_by_role("button", name="Save card").click()
    expect(page.get_by_text("Your card is saved")).to_be_visible(timeout=15_000)

    # 3. Finance sees the masked card, records the customer's agreement, charges it for a repeat order.
    with _as(browser, demo_stack, "finance@souq.demo") as finance:
        _open_customer(finance, demo_stack)
        expect(finance.get_by_text("MASTERCARD 512345xxxxxx0008")).to_be_visible(timeout=20_000)
        expect(finance.get_by_text("VISA 411111xxxxxx1111")).to_be_visible()
        assert "5123450000000008" not in finance.content()
        expect(finance.get_by_text(re.compile("KNET saved cards \\(KFAST\\) are kept by KNET"))).to_be_visible()
        finance.get_by_text("Record the customer's agreement").click()
        form = finance.get_by_test_id("stForm").filter(has_text="Who agreed")
        card = form.get_by_test_id("stSelectbox").filter(has_text="Card").locator("input")
        card.click()
        finance.get_by_role("option", name="MASTERCARD •••• 0008").click()
        form.get_by_label("Note (what they agreed to)").fill("Monthly box, agreed on WhatsApp")
        form.get_by_role("button", name="Record agreement").click()
        wait_idle(finance)
        charge_form = finance.get_by_test_id("stForm").filter(has_text="Charge card")
        expect(charge_form).to_be_visible(timeout=20_000)
        charge_form.get_by_label("Amount (KWD)").fill("7.500")
        charge_form.get_by_label("For").fill("Repeat order: monthly box")
        charge_form.get_by_role("button", name="Charge card").click()
        wait_idle(finance)
        expect(finance.get_by_text(re.compile(r"7\.500 KWD · MASTERCARD 512345xxxxxx0008: Charged\."))).to_be_visible(
            timeout=30_000)
        engine = make_engine(sqlite_url(demo_stack.data_dir / "souq.db"))
        with Session(engine) as session:
            charge = session.exec(select(CardCharge).where(col(CardCharge.customer_key) == HAMAD)).one()
            payment = session.exec(select(Payment).where(col(Payment.order_id) == charge.order_id)).one()
        assert (charge.state, payment.status, payment.amount_fils, payment.method) == ("paid", "paid", 7_500, "card")
        finance.reload()
        wait_idle(finance)
        expect(finance.get_by_text(charge.order_id).first).to_be_visible(timeout=20_000)  # on the customer's page
        finance.screenshot(path=str(SHOTS / "customers-finance-charged.png"), full_page=True)
        after = _card_kpis(demo_stack)
        assert after.gross_fils - before.gross_fils >= 7_500 and after.captured > before.captured
        finance.goto(f"{demo_stack.app}/analytics?period=today&family=card")
        wait_idle(finance)
        expect(finance.get_by_text("Gross captured")).to_be_visible(timeout=30_000)

        # 3b. The gateway's answer to the next charge is lost (a 5xx in front: the sandbox never charged): the charge
        # is "uncertain — check with UPayments", shown with what to do, and finance marks it not charged.
        _open_customer(finance, demo_stack)
        faults = httpx.post(f"{demo_stack.sandbox}/__sandbox/faults",
                            json={"error_rate": 1.0, "paths": ["auto-deduct"], "count": 1})
        assert faults.status_code == 200
        charge_form = finance.get_by_test_id("stForm").filter(has_text="Charge card")
        charge_form.get_by_label("Amount (KWD)").fill("2.000")
        charge_form.get_by_label("For").fill("Repeat order: lost answer")
        charge_form.get_by_role("button", name="Charge card").click()
        wait_idle(finance)
        alert = finance.get_by_test_id("stAlertContentError").filter(has_text="Uncertain — check with UPayments")
        expect(alert.first).to_be_visible(timeout=30_000)
        expect(alert.first).to_contain_text("Find order")
        finance.get_by_text("The UPayments portal has no payment for this order").click()
        none_form = finance.get_by_test_id("stForm").filter(has_text="Mark not charged")
        none_form.get_by_text(re.compile("I searched the UPayments portal")).click()
        none_form.get_by_label("Why you are sure (what the portal showed)").fill("No such order in the portal")
        none_form.get_by_role("button", name="Mark not charged").click()
        wait_idle(finance)
        expect(finance.get_by_text(re.compile(r"Marked not charged by finance@souq\.demo")).first).to_be_visible(
            timeout=20_000)
        with Session(engine) as session:
            lost = session.exec(select(CardCharge).where(col(CardCharge.customer_key) == HAMAD,
                                                         col(CardCharge.amount_fils) == 2_000)).one()
        assert lost.state == "not_charged"
        calls = httpx.get(f"{demo_stack.sandbox}/__sandbox/auto-deducts", params={"order_id": lost.order_id})
        assert calls.json()["calls"] == []  # never sent again
        finance.screenshot(path=str(SHOTS / "customers-finance-not-charged.png"), full_page=True)

        # 4. Finance removes the card: gone from the page, and it can no longer be charged anywhere.
        _open_customer(finance, demo_stack)
        token = charge.card_token
        finance.get_by_role("button", name="Remove").last.click()
        wait_idle(finance)
        expect(finance.get_by_text("MASTERCARD 512345xxxxxx0008", exact=True)).to_have_count(
            0, timeout=20_000)
        expect(finance.get_by_text("VISA 411111xxxxxx1111", exact=True)).to_be_visible()
        with pytest.raises(customers.ChargeError):
            customers.charge_saved_card(engine, _client(demo_stack), Actor("finance@souq.demo", Role.FINANCE),
                                        key=HAMAD, card_token=token, amount="1.000", description="again",
                                        idempotency_key="e2e-after-remove-01", settings_like=_Shop())
        raw = httpx.post(f"{demo_stack.sandbox}/api/v1/auto-deduct", headers={"Authorization": "Bearer jtest123"},
                         json={"order": {"id": "E2E-RM-1", "amount": "1.000", "currency": "KWD"},
                               "card": {"token": token}})
        assert raw.status_code == 422 and raw.json()["message"] == "The selected card.token is invalid."
        engine.dispose()

    # 5. A viewer sees the customers, masked; the full number is nowhere on the page.
    with _as(browser, demo_stack, "viewer@souq.demo") as viewer:
        viewer.goto(f"{demo_stack.app}/customers")
        wait_idle(viewer)
        viewer.get_by_label("Find a customer").fill("Hamad")
        viewer.keyboard.press("Enter")
        wait_idle(viewer)
        # other demo customers share the name: the regular is the one whose masked number ends 4321
        hit = viewer.get_by_role("button", name=re.compile(r"Hamad Al-Mutairi · \+965 •+\s+4321"))
        expect(hit).to_contain_text("+965 ••••  4321", timeout=20_000)
        hit.click()
        wait_idle(viewer)
        expect(viewer.get_by_role("heading", name="Hamad Al-Mutairi")).to_be_visible(timeout=20_000)
        expect(viewer.get_by_text("+965 ••••  4321").first).to_be_visible()
        content = viewer.content()
        assert "60004321" not in content and "96560004321" not in viewer.url
        expect(viewer.get_by_role("button", name="Ask to save a card")).to_have_count(0)
        expect(viewer.get_by_text("Saved cards")).to_have_count(0)
        viewer.screenshot(path=str(SHOTS / "customers-viewer-masked.png"), full_page=True)


class _Shop:
    card_charge_approval_threshold_fils = 50_000


def _client(stack: DemoStack) -> UPaymentsClient:
    return UPaymentsClient(f"{stack.sandbox}/api/v1/", "jtest123", max_retries=0)
