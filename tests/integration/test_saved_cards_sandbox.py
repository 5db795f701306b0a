"""Saved cards end to end against the sandbox over loopback, through the real gateway client (§8, §18 F9/F10)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from sandbox.cards import DECLINED_TEST_CARD
from services.gateway import Customer, errors
from services.gateway.cards import parse_auto_deduct
from tests.integration.test_refunds_support import client_for

TOKEN = "96550001234"
SARA = Customer(name="Sara", email="sara@example.com", mobile="+96550001234")


def _save_on_page(link: str, number: str) -> httpx.Response:
    """What a customer does on the hosted "my cards" page: open it, submit a test card (no JavaScript needed)."""
    with httpx.Client(follow_redirects=False, timeout=10) as http:
        page = http.get(link)
        assert page.status_code == 200 and "Save card" in page.text
        session = re.search(r'name="session_id" value="([0-9a-f]+)"', page.text)
        assert session is not None
        base = link.split("/my-cards")[0]
        return http.post(f"{base}/my-cards", data={"session_id": session.group(1), "card_number": number,
                                                   "expiry": "01/39", "cvv": "100"})


def _calls(sandbox: Any, order_id: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = httpx.get(f"{sandbox.api_base.split('/api/')[0]}/__sandbox/auto-deducts",
                                            params={"order_id": order_id}).json()["calls"]
    return calls


def test_save_list_charge_decline_and_remove_a_card(sandbox) -> None:
    with client_for(sandbox.api_base) as client:
        assert client.cards.register(customer_token=TOKEN) is True
        assert client.cards.register(customer_token=TOKEN) is False  # exists: non-fatal
        link = client.cards.add_card_link(customer_token=TOKEN, return_url="http://localhost/cards/back?c=1")
        assert "/my-cards?session_id=" in link
        back = _save_on_page(link, "5123450000000008")
        assert back.status_code == 303
        assert back.headers["location"].startswith("http://localhost/cards/back?c=1&result=saved")
        assert _save_on_page(link, DECLINED_TEST_CARD).status_code == 303
        cards = client.cards.list(customer_token=TOKEN)
        assert [(c.brand, c.number) for c in cards] == [("MASTERCARD", "512345xxxxxx0008"),
                                                        ("VISA", "400000xxxxxx0002")]
        good, bad = cards

        paid = client.cards.auto_deduct(order_id="AD-1", amount_fils=12_500, description="Repeat order",
                                        card_token=good.token, customer=SARA, customer_token=TOKEN)
        assert paid.captured and paid.merchant_order_id == "AD-1" and paid.amount_fils == 12_500 and paid.track_id
        status = client.payments.status(track_id=paid.track_id)  # the look-up an uncertain charge is settled by
        assert (status.result, status.merchant_order_id, status.amount_fils) == ("CAPTURED", "AD-1", 12_500)
        assert (status.track_id, status.reference) == (paid.track_id, "AD-1")
        with pytest.raises(errors.NotFound):  # like live (§6.1): no look-up by the merchant's order id
            client.payments.status(track_id="AD-1")

        declined = client.cards.auto_deduct(order_id="AD-2", amount_fils=5_000, description="Repeat order",
                                            card_token=bad.token, customer=SARA, customer_token=TOKEN)
        assert declined.result == "NOT CAPTURED" and not declined.captured

        client.cards.remove(card_token=good.token)
        with pytest.raises(errors.ValidationFailed, match=r"The selected card\.token is invalid"):
            client.cards.remove(card_token=good.token)
        with pytest.raises(errors.ValidationFailed, match=r"The selected card\.token is invalid"):
            client.cards.auto_deduct(order_id="AD-3", amount_fils=1_000, description="Repeat order",
                                     card_token=good.token, customer=SARA, customer_token=TOKEN)
        assert [c.number for c in client.cards.list(customer_token=TOKEN)] == ["400000xxxxxx0002"]
    raw = httpx.post(f"{sandbox.api_base}auto-deduct", headers={"Authorization": "Bearer jtest123"},
                     json={"order": {"id": "AD-4", "amount": "1.000", "currency": "KWD"}, "card": {"token": bad.token}})
    assert raw.status_code == 200  # F10: 200, not 201
    assert [c["http_status"] for c in _calls(sandbox, "AD-1")] == [200]
    assert [c["http_status"] for c in _calls(sandbox, "AD-3")] == [422]


def test_a_charge_with_the_customer_token_offers_their_saved_cards_and_can_save_new_ones(sandbox) -> None:
    with client_for(sandbox.api_base) as client:
        client.cards.register(customer_token=TOKEN)
        charge = client.charges.create(order_id="PRESENT-1", amount_fils=3_000, description="Repeat order",
                                       return_url="http://localhost/pay/return", cancel_url="http://localhost/c",
                                       notification_url="http://127.0.0.1:9/wh", customer=SARA,
                                       customer_unique_token=TOKEN, save_card=True)
        with httpx.Client(timeout=10) as http:
            assert "Your saved cards" not in http.get(charge.link).text  # none yet
            base = charge.link.split("/pay/")[0]
            http.post(f"{base}/pay/{charge.session_id}/cc", data={"action": "pay", "card_number": "4111111111111111"})
        assert [c.number for c in client.cards.list(customer_token=TOKEN)] == ["411111xxxxxx1111"]  # isSaveCard
        again = client.charges.create(order_id="PRESENT-2", amount_fils=3_000, description="Repeat order",
                                      return_url="http://localhost/pay/return", cancel_url="http://localhost/c",
                                      notification_url="http://127.0.0.1:9/wh", customer=SARA,
                                      customer_unique_token=TOKEN)
        with httpx.Client(timeout=10) as http:
            page = http.get(again.link).text
            assert "Your saved cards" in page and "1111" in page and "4111111111111111" not in page
            token = re.search(r'name="card" value="(\d+)"', page)
            assert token is not None
            done = http.post(f"{base}/pay/{again.session_id}/saved", data={"card": token.group(1)},
                             follow_redirects=False)
        assert done.status_code == 303 and "result=CAPTURED" in done.headers["location"]


def test_unknown_customer_token_in_a_charge_is_refused(sandbox) -> None:
    with client_for(sandbox.api_base) as client, pytest.raises(errors.ValidationFailed):
        client.charges.create(order_id="X-1", amount_fils=1_000, description="x", return_url="http://l/r",
                              cancel_url="http://l/c", notification_url="http://l/n", customer_unique_token="12345678")


@pytest.mark.parametrize("data", [
    {"trackId": "T1", "transaction": {"track_id": "T1", "payment_id": "P1", "order_id": "AD-9", "amount": "2.500",
                                      "currency": "KWD", "result": "CAPTURED", "payment_type": "card"}},
    {"trackId": "T1", "paymentId": "P1", "orderId": "AD-9", "paid_amount": "2.500", "paid_currency": "KWD",
     "result": "CAPTURED"},
])
def test_auto_deduct_answers_are_read_in_both_casings(data: dict[str, Any]) -> None:
    got = parse_auto_deduct(data, "KWD", {})
    assert (got.track_id, got.payment_id, got.merchant_order_id, got.amount_fils, got.captured) == (
        "T1", "P1", "AD-9", 2_500, True)
