"""A sales person creates a payment link, the customer pays it with KNET on the sandbox page, lands on the thank-you
page, and the dashboard shows it paid within seconds — the whole demo stack, real browser, real OIDC login."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DemoStack, login, wait_idle

pytestmark = pytest.mark.e2e


def test_sales_link_paid_with_knet_shows_thank_you_and_paid(page: Page, demo_stack: DemoStack) -> None:
    login(page, demo_stack, "sales@souq.demo")
    expect(page.get_by_role("heading", name="Payment links")).to_be_visible(timeout=30_000)
    form = page.get_by_test_id("stForm")
    form.get_by_role("textbox", name="Amount").fill("12.5")
    form.get_by_role("textbox", name="Customer mobile (WhatsApp)").fill("+٩٦٥ ٥٥١٢ ٣٤٥٦")
    form.get_by_role("textbox", name="What is it for?").fill("Blue abaya, size M")
    form.get_by_role("textbox", name="Customer name").fill("Huda")
    form.get_by_role("button", name="Create link").click()

    outcome = page.locator(".st-key-link_outcome")
    expect(outcome).to_contain_text("The link is ready to share.", timeout=30_000)
    expect(outcome.get_by_role("link", name=re.compile(r"Send on WhatsApp to \+96555123456"))).to_have_attribute(
        "href", re.compile(r"^https://wa\.me/96555123456\?text="))
    link = outcome.get_by_test_id("stCode").locator("code").inner_text().strip()
    assert link.startswith(demo_stack.sandbox)
    wait_idle(page)
    page.screenshot(path=str(demo_stack.data_dir / "links-created.png"), full_page=True)

    customer = page.context.new_page()
    customer.goto(link)
    customer.get_by_role("button", name="KNET").click()
    customer.get_by_role("button", name="Pay 12.500 KWD").click()
    expect(customer).to_have_url(re.compile(re.escape(demo_stack.app) + r"/?pay/return\?o=SD-"), timeout=20_000)
    expect(customer.locator("p[data-kind]")).to_have_text(
        re.compile(r"Thank you, your payment of 12\.500 KWD to .+ is confirmed\."), timeout=30_000)
    receipt = customer.locator("section.receipt")
    for text in ("Payment receipt", "12.500 KWD", "KNET", "Paid on (Kuwait time)", "Payment ID", "Track ID"):
        expect(receipt).to_contain_text(text)
    customer.screenshot(path=str(demo_stack.data_dir / "links-thank-you.png"), full_page=True)
    customer.emulate_media(media="print")
    expect(receipt.get_by_role("button", name="Print or save as PDF")).to_be_hidden()
    customer.screenshot(path=str(demo_stack.data_dir / "links-receipt-print.png"), full_page=True)
    customer.emulate_media(media="screen")
    with customer.expect_download() as saved:
        receipt.get_by_role("link", name="Save as image").click()
    image = saved.value.path().read_text(encoding="utf-8")
    assert image.startswith("<svg") and "12.500 KWD" in image and "KNET" in image
    order_id = re.search(r"o=(SD-\d{6}-[A-Z2-7]{10})", customer.url).group(1)  # type: ignore[union-attr]
    kept = customer.context.new_page()  # the receipt link staff send again later
    kept.goto(f"{demo_stack.app}/pay/receipt?o={order_id}")
    expect(kept.locator("section.receipt")).to_contain_text("12.500 KWD")
    kept.close()
    customer.close()

    expect(outcome).to_contain_text(re.compile(r"Paid (just now|\d+ min ago) · 12\.500 KWD"), timeout=15_000)
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    page.screenshot(path=str(demo_stack.data_dir / "links-paid.png"), full_page=True)
