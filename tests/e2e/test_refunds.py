"""Browser: finance refunds part of a demo KNET payment, sees it initiated then refunded; a viewer cannot."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, col, select

from services.db import make_engine, sqlite_url
from services.models import Payment, Refund
from services.money import format_amount
from tests.e2e.conftest import DemoStack, login, wait_idle

pytestmark = pytest.mark.e2e


def _untouched_knet_payment(stack: DemoStack) -> Payment:
    """A paid demo KNET payment below the approval threshold that has no refunds yet."""
    return _untouched_payment(stack, ("knet",), 5_000, 50_000)


def _untouched_payment(stack: DemoStack, methods: tuple[str, ...], low: int, high: int) -> Payment:
    """A paid demo payment by one of ``methods`` with an amount in [low, high] fils and no refunds yet."""
    engine = make_engine(sqlite_url(stack.data_dir / "souq.db"))
    try:
        with Session(engine) as session:
            refunded = select(Refund.payment_pk)
            payment = session.exec(
                select(Payment).where(col(Payment.status) == "paid", col(Payment.method).in_(methods),
                                      col(Payment.upay_order_id).is_not(None),
                                      col(Payment.amount_fils).between(low, high),
                                      col(Payment.id).not_in(refunded))
                .order_by(col(Payment.created_at).desc()).limit(1)
            ).first()
    finally:
        engine.dispose()
    assert payment is not None, f"the demo history has no untouched paid {methods} payment in [{low}, {high}]"
    return payment


def test_finance_refunds_part_of_a_knet_payment_and_viewer_cannot(page: Page, browser: Browser,
                                                                   demo_stack: DemoStack) -> None:
    payment = _untouched_knet_payment(demo_stack)
    login(page, demo_stack, "finance@souq.demo")
    page.goto(f"{demo_stack.app}/refunds?payment={payment.order_id}")
    wait_idle(page)
    expect(page.get_by_role("heading", name=f"Payment {payment.order_id}")).to_be_visible(timeout=30_000)

    page.get_by_text("Partial amount", exact=True).click()
    page.get_by_label("Partial amount (KWD)").fill("1.250")
    page.get_by_role("button", name="Review refund").click()
    dialog = page.get_by_test_id("stDialog")
    expect(dialog).to_be_visible(timeout=15_000)
    expect(dialog).to_contain_text("1.250 KWD")
    expect(dialog).to_contain_text("KNET")
    dialog.get_by_role("button", name="Confirm refund").click()
    expect(page.get_by_text(re.compile(r"Refund of 1\.250 KWD initiated with UPayments"))).to_be_visible(
        timeout=30_000)
    table = page.get_by_test_id("stTable")
    expect(table).to_contain_text("Initiated")
    expect(table).to_contain_text("1.250 KWD")
    expect(page.get_by_test_id("stMetric").filter(has_text="Pending")).to_contain_text("1.250 KWD")
    expect(page.get_by_test_id("stMetric").filter(has_text="Already refunded")).to_contain_text("0.000 KWD")

    # More than what is left is refused before any confirmation, and nothing is sent.
    page.get_by_text("Partial amount", exact=True).click()
    page.get_by_label("Partial amount (KWD)").fill(format_amount(payment.amount_fils))
    page.get_by_role("button", name="Review refund").click()
    expect(page.get_by_text(re.compile(r"is more than the .* still refundable"))).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("stDialog")).to_have_count(0)

    # The demo gateway executes refunds after 3 s; "Refresh statuses" asks it (no fixed sleep: poll the page).
    for _ in range(20):
        page.get_by_role("button", name="Refresh statuses").click()
        wait_idle(page)
        try:
            expect(page.get_by_test_id("stTable")).to_contain_text("Refunded", timeout=1_500)
            break
        except AssertionError:
            continue
    expect(page.get_by_test_id("stTable")).to_contain_text("Refunded")
    expect(page.get_by_test_id("stMetric").filter(has_text="Already refunded")).to_contain_text("1.250 KWD")
    page.screenshot(path=str(demo_stack.data_dir / "refunds-finance.png"), full_page=True)

    with _other_person(browser, demo_stack, "viewer@souq.demo", f"refunds?payment={payment.order_id}") as viewer:
        expect(viewer.get_by_role("heading", name=f"Payment {payment.order_id}")).to_be_visible(timeout=30_000)
        expect(viewer.get_by_test_id("stTable")).to_contain_text("Refunded")
        expect(viewer.get_by_text("can see refunds but not make them")).to_be_visible()
        expect(viewer.get_by_role("button", name="Review refund")).to_have_count(0)
        expect(viewer.get_by_role("button", name="Cancel refund")).to_have_count(0)
        expect(viewer.get_by_role("button", name="Refresh statuses")).to_have_count(0)
        viewer.screenshot(path=str(demo_stack.data_dir / "refunds-viewer.png"), full_page=True)


@contextmanager
def _other_person(browser: Browser, stack: DemoStack, email: str, path: str) -> Iterator[Page]:
    """A second person, in their own browser context, logged in and on ``path``."""
    context = browser.new_context()
    try:
        other = context.new_page()
        login(other, stack, email)
        other.goto(f"{stack.app}/{path}")
        wait_idle(other)
        yield other
    finally:
        context.close()


def test_large_refund_needs_a_second_person_and_can_be_cancelled_while_initiated(
        page: Page, browser: Browser, demo_stack: DemoStack) -> None:
    payment = _untouched_payment(demo_stack, ("card", "knet"), 120_000, 10_000_000)
    amount = format_amount(payment.amount_fils)
    slow = httpx.post(f"{demo_stack.sandbox}/__sandbox/config", json={"refund_delay_seconds": 600}, timeout=10)
    slow.raise_for_status()  # the gateway keeps the refund initiated long enough to cancel it
    try:
        login(page, demo_stack, "finance@souq.demo")
        page.goto(f"{demo_stack.app}/refunds?payment={payment.order_id}")
        wait_idle(page)
        page.get_by_role("button", name="Review refund").click()
        dialog = page.get_by_test_id("stDialog")
        expect(dialog).to_contain_text("another finance or admin person must approve", timeout=15_000)
        dialog.get_by_role("button", name="Confirm refund").click()
        expect(page.get_by_text(re.compile(rf"Refund of {re.escape(amount)} KWD requested"))).to_be_visible(
            timeout=30_000)
        # In the full suite (after other tests' refunds) the payment panel was once missing after this rerun (the
        # search box came back empty): open the payment again rather than depend on it; noted for a page fix.
        page.goto(f"{demo_stack.app}/refunds?payment={payment.order_id}")
        wait_idle(page)
        expect(page.get_by_test_id("stTable")).to_contain_text("Awaiting approval", timeout=30_000)
        own = _refunds_of(demo_stack, payment)[0].id  # other tests' requests may be waiting in the same demo
        expect(page.locator(f".st-key-refund_approve_{own}")).to_have_count(0)  # not their own

        with _other_person(browser, demo_stack, "finance2@souq.demo", "refunds") as approver:
            expect(approver.get_by_text(re.compile(rf"{payment.order_id} — requested by"))).to_be_visible(
                timeout=30_000)
            expect(approver.get_by_text(re.compile(r"reason: Customer request"))).to_be_visible()
            approver.locator(f".st-key-refund_approve_{_refunds_of(demo_stack, payment)[0].id}").get_by_role(
                "button", name="Approve and send").click()
            expect(approver.get_by_text(re.compile(rf"Refund of {re.escape(amount)} KWD initiated"))).to_be_visible(
                timeout=30_000)

        page.reload()
        wait_idle(page)
        expect(page.get_by_test_id("stTable")).to_contain_text("Initiated", timeout=30_000)
        # table cells are data escaped by dashboard.safe.md: a word joiner after the @ stops auto-linking
        expect(page.get_by_test_id("stTable")).to_contain_text(re.compile("finance2@\u2060?souq\\.demo"))
        page.get_by_role("button", name="Cancel refund").click()
        wait_idle(page)
        expect(page.get_by_test_id("stTable")).to_contain_text("Cancelled", timeout=30_000)
        expect(page.get_by_test_id("stMetric").filter(has_text="Refundable now")).to_contain_text(amount)
        page.screenshot(path=str(demo_stack.data_dir / "refunds-approval-cancel.png"), full_page=True)
    finally:
        httpx.post(f"{demo_stack.sandbox}/__sandbox/config", json={"refund_delay_seconds": 3}, timeout=10)
    assert [(r.state, r.requested_by, r.approved_by) for r in _refunds_of(demo_stack, payment)] == [
        ("cancelled", "finance@souq.demo", "finance2@souq.demo")]


def _refunds_of(stack: DemoStack, payment: Payment) -> list[Refund]:
    engine = make_engine(sqlite_url(stack.data_dir / "souq.db"))
    with Session(engine) as session:
        refunds = list(session.exec(select(Refund).where(col(Refund.payment_pk) == payment.id)).all())
    engine.dispose()
    return refunds
