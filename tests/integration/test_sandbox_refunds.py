"""Refunds over real HTTP: create, check, settle after the delay, delete while initiated, business refusals."""

from __future__ import annotations

import re
import time
from decimal import Decimal
from typing import Any

from sandbox.server import RunningSandbox
from tests.integration.conftest import Api


def _refund(api: Api, order_id: str, amount: str) -> dict[str, Any]:
    response = api.post("create-refund", {"orderId": order_id, "totalPrice": Decimal(amount)})
    assert response.status_code in (200, 201), response.text
    payload: dict[str, Any] = response.json()
    return payload


def _refunds(api: Api, order_id: str) -> list[dict[str, Any]]:
    response = api.get(f"check-refund/{order_id}")
    assert response.status_code == 201, response.text
    items: list[dict[str, Any]] = response.json()["data"]["refund"]
    return items


def test_refund_is_initiated_then_refunded_after_the_delay(api: Api, sandbox: RunningSandbox) -> None:
    order_id = api.paid()["order_id"]
    created = _refund(api, order_id, "2.500")
    assert created["status"] is True and created["message"] == "Refund invoice generated successfully"
    data = created["data"]
    assert set(data) == {"orderId", "refundOrderId", "refundArn"}  # §16 A4: camelCase
    assert re.fullmatch(r"[A-Za-z0-9]{32}", data["refundOrderId"]) and data["refundArn"].isdigit()
    [item] = _refunds(api, order_id)
    assert set(item) == {"order_id", "is_refunded", "refunded_date"}  # §18 F2: nothing else
    assert item["order_id"] == data["orderId"] and item["order_id"].endswith(data["refundOrderId"])  # F3
    assert item["is_refunded"] is False and item["refunded_date"] is None
    legacy = api.get(f"check-refund-status/{order_id}").json()["data"]["transaction"]
    assert legacy == {"is_refunded": False, "is_refunded_date": None}

    deadline = time.monotonic() + 5
    while not _refunds(api, order_id)[0]["is_refunded"]:
        assert time.monotonic() < deadline, "refund never completed"
        time.sleep(0.1)
    [done] = _refunds(api, order_id)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", done["refunded_date"])
    assert api.get(f"check-refund-status/{order_id}").json()["data"]["transaction"]["is_refunded"] is True
    record = sandbox.payment("ORD-1001")
    assert record["balance_fils"] == 50_000_000 - 2_500


def test_delete_while_initiated_and_not_after(api: Api, sandbox: RunningSandbox) -> None:
    sandbox.configure(refund_delay_seconds=60)
    order_id = api.paid()["order_id"]
    first = _refund(api, order_id, "5")["data"]
    second = _refund(api, order_id, "1.250")["data"]
    deleted = api.post("delete-refund", {"orderId": first["orderId"], "refundOrderId": first["refundOrderId"]})
    assert deleted.status_code == 201
    assert deleted.json()["data"] == {"order_id": first["orderId"], "refund_order_id": first["refundOrderId"]}
    assert [r["order_id"] for r in _refunds(api, order_id)] == [second["orderId"]]
    again = api.post("delete-refund", {"orderId": first["orderId"], "refundOrderId": first["refundOrderId"]})
    assert again.json()["status"] is False and "already deleted" in again.json()["message"]

    assert sandbox.settle_refunds() == 1
    too_late = api.get("delete-refund", orderId=second["orderId"], refundOrderId=second["refundOrderId"])
    assert too_late.status_code == 200 and too_late.json()["status"] is False  # §16 A2: GET accepted too
    assert "cannot be deleted" in too_late.json()["message"]
    # The deleted refund's amount went back to the balance; the refunded one did not.
    assert sandbox.payment("ORD-1001")["balance_fils"] == 50_000_000 - 1_250


def test_refusals(api: Api, sandbox: RunningSandbox) -> None:
    order_id = api.paid(amount=Decimal("10"))["order_id"]
    assert _refund(api, order_id, "7")["status"] is True
    over = _refund(api, order_id, "3.001")
    assert over["status"] is False and "3.000 KWD" in over["message"]
    assert _refund(api, order_id, "3")["status"] is True  # exactly the rest is fine

    unknown = _refund(api, "ME3OdxVO6mNOPE", "1")
    assert unknown["status"] is False and "order id" in unknown["message"].lower()
    merchant_id = _refund(api, "ORD-1001", "1")  # §16 A5: the merchant order id is not a refund key
    assert merchant_id["status"] is False

    data = api.charge(order_id="ORD-DECLINED")
    declined = sandbox.complete(data["session_id"], method="knet", outcome="declined", wait_webhook=False)
    not_paid = _refund(api, declined["order_id"], "1")
    assert not_paid["status"] is False and "captured" in not_paid["message"]

    sandbox.configure(merchant_balance_fils=500)
    other = api.paid(order_id="ORD-2")["order_id"]
    poor = _refund(api, other, "1")
    assert poor["status"] is False and "balance" in poor["message"].lower()
    assert _refund(api, other, "0.500")["status"] is True

    invalid = api.post("create-refund", {"orderId": other, "totalPrice": Decimal("0.0001")})
    assert invalid.status_code == 422 and "totalPrice" in invalid.json()["errors"]
    assert api.post("create-refund", {"totalPrice": 1}).json()["errors"]["orderId"]
    missing = api.post("delete-refund", {"orderId": other})
    assert missing.status_code == 422 and "refundOrderId" in missing.json()["errors"]
    assert api.get("check-refund/unknown-order").status_code == 404
