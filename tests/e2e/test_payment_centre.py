"""Browser: the payment at the centre (issue 14, items 2, 4, 5, 6).

- finance refunds a payment from its Transactions detail (the same dialog as the Refunds page), and the refund
  state reads the same in the detail header, the URL-bound filter and the CSV, after a partial and a full refund;
- the detail speaks plain words; the gateway JSON is behind an expander for finance, absent for a viewer;
- a link offers sharing only while payable, "Send a new link" (prefilled) once it ended unpaid, the receipt once
  paid; staff send the receipt link from the payment;
- Analytics "Today" is bucketed by Kuwait hour with clock-time ticks.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from services.money import format_amount
from tests.e2e.conftest import DemoStack, login, wait_idle
from tests.e2e.test_downloads import _click_download
from tests.e2e.test_hostile_text import _select_first_row
from tests.e2e.test_refunds import _untouched_knet_payment

pytestmark = pytest.mark.e2e


def _shots(stack: DemoStack) -> Path:
    out = stack.data_dir / "shots-payment-centre"
    out.mkdir(exist_ok=True)
    return out


def _open_payment(page: Page, stack: DemoStack, query: str) -> None:
    page.goto(f"{stack.app}/transactions?{query}")
    wait_idle(page)
    _select_first_row(page, "tx_table", _shots(stack), ".st-key-tx_detail")


def _csv_row(page: Page, tmp_path: Path, order_id: str) -> dict[str, str]:
    download = _click_download(page, page.get_by_role("link", name="Export CSV"))
    saved = tmp_path / f"{order_id}-{download.suggested_filename}"
    download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert [r["order_id"] for r in rows] == [order_id]
    return rows[0]


def _refund_from_detail(page: Page, partial: str | None) -> None:
    detail = page.locator(".st-key-tx_detail")
    detail.get_by_text("Refund this payment").click()
    if partial is not None:
        detail.get_by_text("Partial amount", exact=True).click()
        detail.get_by_label("Partial amount (KWD)").fill(partial)
    detail.get_by_role("button", name="Review refund").click()
    dialog = page.get_by_test_id("stDialog")
    expect(dialog).to_be_visible(timeout=15_000)
    dialog.get_by_role("button", name="Confirm refund").click()
    expect(page.get_by_text(re.compile(r"Refund of [\d.]+ KWD initiated with UPayments"))).to_be_visible(
        timeout=30_000)
    wait_idle(page)


def test_refund_from_the_payment_and_its_state_in_detail_filter_and_csv(page: Page, demo_stack: DemoStack,
                                                                         tmp_path: Path) -> None:
    payment = _untouched_knet_payment(demo_stack)
    order, shots = payment.order_id, _shots(demo_stack)
    amount = payment.amount_fils
    login(page, demo_stack, "finance@souq.demo")
    _open_payment(page, demo_stack, f"order={order}")
    detail = page.locator(".st-key-tx_detail")
    expect(detail.get_by_role("heading")).to_contain_text(f"Payment {order}")
    expect(detail.get_by_role("heading")).to_contain_text("Paid")
    # Plain words, no column names; the gateway's JSON behind an expander (finance may see it).
    facts = detail.get_by_test_id("stTable")
    for label in ("Order number", "Paid with", "UPayments track id", "UPayments order number (for refunds)"):
        expect(facts).to_contain_text(label)
    for raw in ("upay_order_id", "link_state", "method_family", "refunded_fils", "Total (all statuses)"):
        expect(page.get_by_text(raw)).to_have_count(0)
    expect(detail.get_by_text("Gateway data (for finance and admins)")).to_be_visible()
    page.screenshot(path=str(shots / "detail-finance.png"), full_page=True)

    _refund_from_detail(page, "1.250")
    heading = page.locator(".st-key-tx_detail").get_by_role("heading")
    expect(heading).to_contain_text("Partially refunded", timeout=30_000)
    expect(page.get_by_test_id("stMetric").filter(has_text="Net").last).to_contain_text(
        format_amount(amount - 1_250))
    page.screenshot(path=str(shots / "detail-partly-refunded.png"), full_page=True)
    page.goto(f"{demo_stack.app}/refunds?payment={order}")  # the Refunds page says the same
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"KNET · .* · Partially refunded"))).to_be_visible(timeout=30_000)
    # The filter lives in the URL; the CSV says the same word.
    page.goto(f"{demo_stack.app}/transactions?refund=partially_refunded&order={order}")
    wait_idle(page)
    expect(page.get_by_test_id("stMetric").filter(has_text="Payments").first).to_contain_text("1", timeout=30_000)
    expect(page.get_by_test_id("stMultiSelect").filter(has_text="Refunds")).to_contain_text("Partially refunded")
    row = _csv_row(page, tmp_path, order)
    assert (row["status"], row["refunded"]) == ("partially_refunded", "1.250")
    page.goto(f"{demo_stack.app}/transactions?refund=refunded&order={order}")
    wait_idle(page)
    expect(page.get_by_text("No payments match these filters")).to_be_visible(timeout=30_000)

    _open_payment(page, demo_stack, f"order={order}")
    _refund_from_detail(page, None)  # the full remaining amount
    expect(page.locator(".st-key-tx_detail").get_by_role("heading")).to_contain_text(" · Refunded", timeout=30_000)
    expect(page.locator(".st-key-tx_detail")).to_contain_text("already been refunded in full")
    page.locator(".st-key-tx_detail").screenshot(path=str(shots / "detail-refunded.png"))
    page.goto(f"{demo_stack.app}/transactions?refund=refunded&order={order}")
    wait_idle(page)
    row = _csv_row(page, tmp_path, order)
    assert (row["status"], row["refunded"]) == ("refunded", format_amount(amount))


def test_a_viewer_reads_plain_words_without_gateway_json_or_refund(page: Page, demo_stack: DemoStack) -> None:
    payment = _untouched_knet_payment(demo_stack)
    login(page, demo_stack, "viewer@souq.demo")
    page.goto(f"{demo_stack.app}/transactions?refund=partially_refunded,refunded")  # the demo's own refunds
    wait_idle(page)
    expect(page.get_by_test_id("stMultiSelect").filter(has_text="Refunds")).to_contain_text("Refunded")
    page.locator(".st-key-tx_table").screenshot(path=str(_shots(demo_stack) / "list-refunded.png"))
    _open_payment(page, demo_stack, f"order={payment.order_id}")
    detail = page.locator(".st-key-tx_detail")
    expect(detail.get_by_test_id("stTable")).to_contain_text("Order number")
    expect(detail.get_by_text("Gateway data (for finance and admins)")).to_have_count(0)
    expect(detail.get_by_text("Refund this payment")).to_have_count(0)
    expect(page.get_by_test_id("stJson")).to_have_count(0)
    detail.screenshot(path=str(_shots(demo_stack) / "detail-viewer.png"))


def _create(page: Page, *, amount: str, description: str) -> str:
    form = page.get_by_test_id("stForm")
    form.get_by_role("textbox", name="Amount").fill(amount)
    form.get_by_role("textbox", name="Customer mobile (WhatsApp)").fill("+965 5512 3456")
    form.get_by_role("textbox", name="What is it for?").fill(description)
    form.get_by_role("textbox", name="Customer name").fill("Huda")
    form.get_by_role("button", name="Create link").click()
    outcome = page.locator(".st-key-link_outcome")
    expect(outcome).to_contain_text("The link is ready to share.", timeout=30_000)
    return outcome.get_by_test_id("stCode").locator("code").inner_text().strip()


def test_links_follow_their_lifecycle_and_the_receipt_is_sent_from_the_payment(page: Page,
                                                                               demo_stack: DemoStack) -> None:
    shots = _shots(demo_stack)
    login(page, demo_stack, "sales@souq.demo")
    expect(page.get_by_role("heading", name="Payment links")).to_be_visible(timeout=30_000)
    link = _create(page, amount="3.5", description="Oud perfume")
    outcome = page.locator(".st-key-link_outcome")
    expect(outcome.get_by_role("link", name=re.compile("Send on WhatsApp"))).to_be_visible()

    customer = page.context.new_page()  # the customer gives up on the payment page
    customer.goto(link)
    customer.get_by_role("button", name="KNET").click()
    customer.get_by_role("button", name="Cancel").click()
    expect(customer).to_have_url(re.compile(r"/pay/cancel\?"), timeout=20_000)
    customer.close()
    again = outcome.get_by_role("button", name="Send a new link")
    expect(again).to_be_visible(timeout=30_000)
    expect(outcome.get_by_role("link", name=re.compile("Send on WhatsApp"))).to_have_count(0)
    expect(outcome.get_by_test_id("stCode")).to_have_count(0)
    page.screenshot(path=str(shots / "link-cancelled.png"), full_page=True)
    again.click()
    wait_idle(page)
    form = page.get_by_test_id("stForm")
    expect(form.get_by_role("textbox", name="Amount")).to_have_value("3.500")
    expect(form.get_by_role("textbox", name="What is it for?")).to_have_value("Oud perfume")
    expect(form.get_by_role("textbox", name="Customer name")).to_have_value("Huda")
    expect(form.get_by_role("textbox", name="Customer mobile (WhatsApp)")).to_have_value("+96555123456")
    page.screenshot(path=str(shots / "link-send-again-prefilled.png"), full_page=True)
    form.get_by_role("button", name="Create link").click()
    expect(outcome).to_contain_text("The link is ready to share.", timeout=30_000)
    second = outcome.get_by_test_id("stCode").locator("code").inner_text().strip()
    assert second != link  # a new intent: a new link, not the old one again

    customer = page.context.new_page()
    customer.goto(second)
    customer.get_by_role("button", name="KNET").click()
    customer.get_by_role("button", name="Pay 3.500 KWD").click()
    expect(customer).to_have_url(re.compile(r"/pay/return\?o=SD-"), timeout=20_000)
    order = re.search(r"o=(SD-[A-Za-z0-9-]+)", customer.url).group(1)  # type: ignore[union-attr]
    customer.close()
    receipt = outcome.get_by_role("link", name="Send receipt on WhatsApp")
    expect(receipt).to_be_visible(timeout=30_000)
    expect(receipt).to_have_attribute("href", re.compile(r"^https://wa\.me/96555123456\?text=.*" + re.escape(
        quote(f"/pay/receipt?o={order}", safe=""))))
    expect(outcome.get_by_role("link", name="Open the receipt")).to_have_attribute(
        "href", re.compile(re.escape(f"/pay/receipt?o={order}") + "$"))
    expect(outcome.get_by_role("link", name=re.compile("Send on WhatsApp to"))).to_have_count(0)
    expect(outcome.get_by_text("The link is ready to share.")).to_have_count(0)
    page.screenshot(path=str(shots / "link-paid-receipt.png"), full_page=True)

    staff = page.context.browser.new_page()  # type: ignore[union-attr]
    login(staff, demo_stack, "finance@souq.demo")
    _open_payment(staff, demo_stack, f"order={order}")
    sent = staff.locator(".st-key-tx_detail").get_by_role("link", name="Send receipt on WhatsApp")
    expect(sent).to_have_attribute("href", re.compile(re.escape(quote(f"/pay/receipt?o={order}", safe=""))))
    staff.locator(".st-key-tx_detail").screenshot(path=str(shots / "detail-receipt.png"))
    staff.goto(f"{demo_stack.app}/links")
    wait_idle(staff)
    staff.locator(".st-key-links_table").screenshot(path=str(shots / "links-table.png"))
    staff.close()


def test_analytics_today_is_hourly_with_clock_time_ticks(page: Page, demo_stack: DemoStack) -> None:
    login(page, demo_stack, "admin@souq.demo")
    page.goto(f"{demo_stack.app}/analytics?period=today")
    wait_idle(page)
    chart = page.locator(".st-key-fig_volume")
    expect(chart).to_contain_text("Captured volume (KWD) by hour", timeout=30_000)
    chart.locator(".xtick text").first.wait_for(timeout=30_000)
    ticks = [t.strip() for t in chart.locator(".xtick text").evaluate_all("els => els.map(e => e.textContent)")]
    assert ticks and all(re.fullmatch(r"\d\d:00", t) for t in ticks), ticks
    assert "00:00" in ticks and not any("Nov" in t or ":00:00" in t for t in ticks)
    success = page.locator(".st-key-fig_success")
    expect(success).to_contain_text("Success rate by method, this period")
    chart.screenshot(path=str(_shots(demo_stack) / "analytics-today-volume.png"))
    success.screenshot(path=str(_shots(demo_stack) / "analytics-today-success.png"))
