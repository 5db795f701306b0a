"""The hosted payment page in Debian's headless Chromium: pay with KNET, land on the merchant's return URL."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from sandbox.server import RunningSandbox
from tests.integration.conftest import Api


def test_pay_with_knet_in_the_browser(page: Page, api: Api, sandbox: RunningSandbox) -> None:
    shop = f"{sandbox.url}/__sandbox/health?shop=1"  # any page that answers stands in for the merchant
    data = api.charge(returnUrl=shop, cancelUrl=shop,
                      customer={"name": "<b>Sara</b>", "email": "sara@example.com"})
    page.goto(data["link"])
    expect(page.get_by_test_id("amount")).to_have_text("12.500 KWD")
    expect(page.get_by_text("Mug")).to_be_visible()
    page.get_by_role("button", name="KNET").click()
    expect(page.get_by_label("Card number")).to_have_value("8888880000000001")
    page.get_by_role("button", name="Pay 12.500 KWD").click()
    page.wait_for_url(re.compile(r"/__sandbox/health\?shop=1\?payment_id=.*result=CAPTURED"))
    tx = api.status(session_id=data["session_id"])
    assert tx["result"] == "CAPTURED" and tx["payment_type"] == "knet"
    assert f"track_id={tx['track_id']}" in page.url

    page.goto(data["link"])
    expect(page.get_by_role("status")).to_have_text("This payment is already paid.")


def test_declined_card_then_cancel_go_to_the_cancel_url(page: Page, api: Api, sandbox: RunningSandbox) -> None:
    shop = f"{sandbox.url}/__sandbox/health"
    data = api.charge(returnUrl=shop + "?ok=1", cancelUrl=shop + "?cancel=1", language="ar")
    page.goto(data["link"])
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    page.get_by_role("button", name="Card").click()
    page.get_by_label("رقم البطاقة").fill("4000000000000002")
    page.get_by_role("button", name="Pay 12.500 KWD").click()
    page.wait_for_url(re.compile(r"cancel=1\?payment_id=.*result=NOT%20CAPTURED"))
    page.goto(data["link"])  # a second attempt on the same link is allowed
    page.get_by_role("button", name="Apple Pay").click()
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(re.compile(r"result=CANCELED"))
    assert api.status(session_id=data["session_id"])["result"] == "CANCELED"
