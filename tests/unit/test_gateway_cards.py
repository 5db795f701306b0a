"""The saved-cards client's refusals that the sandbox never produces (a transport stub for these error paths only;
the real flows run against the sandbox in tests/integration/test_saved_cards_sandbox.py)."""

from __future__ import annotations

import json

import httpx
import pytest

from services.gateway import UPaymentsClient, errors
from services.gateway.cards import AutoDeductResult


def _client(answer: dict[str, object], status: int = 201, seen: list[httpx.Request] | None = None) -> UPaymentsClient:
    def reply(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, json=answer)

    return UPaymentsClient("https://gw.test/api/v1/", "tok123456", transport=httpx.MockTransport(reply),
                           max_retries=3, backoff_base=0.0)


def test_a_card_list_with_a_full_card_number_is_refused_not_shown() -> None:
    answer = {"status": True, "data": {"customerCards": [
        {"brand": "VISA", "number": "4111111111111111", "scheme": "VISA", "token": "9635226510514933"}]}}
    with _client(answer) as client, pytest.raises(errors.InvalidResponse, match="masked"):
        client.cards.list(customer_token="96550001234")


def test_auto_deduct_is_never_retried_and_a_5xx_is_uncertain() -> None:
    seen: list[httpx.Request] = []
    with _client({"message": "Server Error"}, status=500, seen=seen) as client, \
            pytest.raises(errors.ServerError) as caught:
        from services.gateway import Customer

        client.cards.auto_deduct(order_id="AD-1", amount_fils=1_000, description="x", card_token="1" * 16,
                                 customer=Customer(name="Sara"), customer_token="96550001234")
    assert len(seen) == 1 and errors.is_uncertain(caught.value)
    body = json.loads(seen[0].content)
    assert body["card"] == {"token": "1" * 16} and body["customer"]["uniqueToken"] == 96550001234
    assert b'"amount":1.000' in seen[0].content  # the exact decimal on the wire, never a float


@pytest.mark.parametrize("token", ["0123456789", "1234567", "12345678901234567890", "١٢٣٤٥٦٧٨٩", ""])
def test_customer_tokens_with_a_leading_zero_or_the_wrong_length_never_leave(token: str) -> None:
    seen: list[httpx.Request] = []
    with _client({"status": True, "data": {}}, seen=seen) as client, pytest.raises(ValueError):
        client.cards.register(customer_token=token)
    assert seen == []


def test_auto_deduct_answer_without_ids_still_parses_the_result() -> None:
    with _client({"status": True, "message": "ok", "data": {"transaction": {"result": "NOT CAPTURED"}}},
                 status=200) as client:
        from services.gateway import Customer

        got = client.cards.auto_deduct(order_id="AD-2", amount_fils=500, description="x", card_token="2" * 16,
                                       customer=Customer(), customer_token="96550001234")
    assert isinstance(got, AutoDeductResult) and got.result == "NOT CAPTURED" and not got.captured
