"""The sandbox's gateway API over real loopback HTTP: charges, status, auth, validation, rate limit."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx

from sandbox.server import RunningSandbox
from tests.integration.conftest import WL_TOKEN, Api, charge_body


def test_hosted_charge_has_no_track_id_until_paid(api: Api, sandbox: RunningSandbox) -> None:
    data = api.charge()
    assert set(data) == {"link", "session_id"}
    assert data["link"] == f"{sandbox.url}/pay/{data['session_id']}"
    pending = api.status(session_id=data["session_id"])
    assert pending["result"] is None and pending["track_id"] is None and pending["status"] == "pending"
    assert pending["total_price"] == "12.500" and pending["merchant_requested_order_id"] == "ORD-1001"

    done = sandbox.complete(data["session_id"], method="knet", wait_webhook=False)
    tx = api.status(done["track_id"])
    assert re.fullmatch(r"[A-Za-z0-9]{32}", tx["track_id"])
    assert tx["result"] == "CAPTURED" and tx["status"] == "done"
    assert tx["payment_type"] == "knet" and "payment_method" not in tx  # a convenience, off by default
    assert re.fullmatch(r"\d{18}", tx["payment_id"])
    # §16 A16: status order_id is the UPayments id, which embeds the merchant id after a 10-char prefix.
    assert tx["order_id"] == tx["refund_order_id"] == done["order_id"]
    assert tx["order_id"].startswith("ME3OdxVO6mORD-1001") and tx["order_id"] != "ORD-1001"
    assert tx["whitelabel"] is tx["whitelabled"] is False
    assert tx["customer_unique_id"] == tx["customer_unq_id"] == "CUST42"
    assert tx["reference"] == "REF1001" and tx["currency_type"] == "KWD"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", tx["transaction_date"])
    assert api.status(session_id=data["session_id"])["track_id"] == done["track_id"]


def test_redirect_reproduces_the_payment_id_quirk_and_merchant_order_id(api: Api, sandbox: RunningSandbox) -> None:
    data = api.charge()
    done = sandbox.complete(data["session_id"], method="cc", wait_webhook=False)
    url = done["redirect_url"]
    assert url.startswith("https://shop.example/pay/return?o=1001?payment_id=")  # §9.3: a second "?"
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert query["o"] == ["1001?payment_id=" + done["payment_id"]]
    assert query["order_id"] == ["ORD-1001"] and query["requested_order_id"] == ["ORD-1001"]
    assert query["refund_order_id"] == [done["order_id"]] == query["receipt_id"]
    assert query["payment_type"] == ["card"] and query["upay_order_id"] == [done["order_id"]]  # §18 F7
    assert "payment_method" not in query
    assert query["post_date"] == [""] and query["tran_id"] == [""]  # card answers leave KNET fields empty

    sandbox.configure(redirect_quirk=False)
    second = api.charge(order_id="ORD-1002")
    declined = sandbox.complete(second["session_id"], method="knet", outcome="declined", wait_webhook=False)
    assert declined["redirect_url"].startswith("https://shop.example/pay/cancel?o=1001&payment_id=")
    assert "result=NOT%20CAPTURED" in declined["redirect_url"]


def test_white_label_needs_src_and_returns_track_id(api: Api, sandbox: RunningSandbox) -> None:
    sandbox.configure(conveniences=["payment_method"])
    missing = api.post("charge", charge_body(), token=WL_TOKEN)
    assert missing.status_code == 422
    assert missing.json()["errors"]["paymentGateway.src"]
    data = api.charge(token=WL_TOKEN, paymentGateway={"src": "apple-pay"})
    assert set(data) == {"link", "trackId", "session_id"}
    before = api.status(data["trackId"])
    assert before["result"] is None and before["whitelabel"] is True
    refused = httpx.post(f"{sandbox.url}/__sandbox/complete", json={"session_id": data["session_id"],
                                                                   "method": "knet"})
    assert refused.status_code == 409  # a white-label charge can only be paid with its src
    done = sandbox.complete(data["session_id"], wait_webhook=False)
    assert done["track_id"] == data["trackId"]
    tx = api.status(data["trackId"])
    assert tx["payment_type"] == "cc" and tx["payment_method"] == "apple-pay" and tx["result"] == "CAPTURED"
    assert re.fullmatch(r"[0-9a-f]{16}", tx["payment_id"])


def test_retry_after_decline_gets_a_new_track_id_and_paid_stays_paid(api: Api, sandbox: RunningSandbox) -> None:
    data = api.charge()
    first = sandbox.complete(data["session_id"], method="knet", outcome="declined", wait_webhook=False)
    second = sandbox.complete(data["session_id"], method="google-pay", outcome="cancelled", wait_webhook=False)
    third = sandbox.complete(data["session_id"], method="samsung-pay", wait_webhook=False)
    assert len({first["track_id"], second["track_id"], third["track_id"]}) == 3
    assert api.status(first["track_id"])["result"] == "NOT CAPTURED"
    assert api.status(second["track_id"])["result"] == "CANCELED"
    assert api.status(session_id=data["session_id"])["result"] == "CAPTURED"
    again = httpx.post(f"{sandbox.url}/__sandbox/complete", json={"session_id": data["session_id"]})
    assert again.status_code == 409 and "already paid" in again.json()["error"]


def test_invoice_link_and_notification_type_rules(api: Api, sandbox: RunningSandbox) -> None:
    no_email = api.post("charge", charge_body(paymentGateway={"src": "create-invoice"}, notificationType="email",
                                              customer={"name": "Sara", "mobile": "+96550000000"}))
    assert no_email.status_code == 422 and "customer.email" in no_email.json()["errors"]
    no_mobile = api.post("charge", charge_body(paymentGateway={"src": "create-invoice"}, notificationType="sms",
                                               customer={"name": "Sara"}))
    assert no_mobile.status_code == 422 and "customer.mobile" in no_mobile.json()["errors"]
    no_type = api.post("charge", charge_body(paymentGateway={"src": "create-invoice"}))
    assert no_type.status_code == 422 and "notificationType" in no_type.json()["errors"]

    data = api.charge(paymentGateway={"src": "create-invoice"}, notificationType="link")
    assert set(data) == {"sms", "email", "link", "url", "invoice_id"}
    assert data["sms"] is False and data["email"] is False and data["link"] is True
    assert data["url"].endswith("/" + data["invoice_id"])
    opened = httpx.get(data["url"], follow_redirects=True)  # the invoice page is the hosted payment page
    assert opened.status_code == 200 and "Souq Demo Shop" in opened.text
    assert api.status(invoice_id=data["invoice_id"])["result"] is None
    done = sandbox.complete(invoice_id=data["invoice_id"], method="knet", wait_webhook=False)
    tx = api.status(invoice_id=data["invoice_id"])
    assert tx["result"] == "CAPTURED" and tx["track_id"] == done["track_id"] and "invoice_id" not in tx
    both = api.charge(order_id="ORD-2", paymentGateway={"src": "create-invoice"}, notificationType="all")
    assert both["sms"] is True and both["email"] is True


def test_auth_failures(api: Api) -> None:
    for token in (None, "wrong-token"):
        response = api.post("charge", charge_body(), token=token)
        assert response.status_code == 401 and response.json() == {"message": "Not a valid API request"}
        assert api.get("get-payment-status/abc", token=token).status_code == 401
    key = api.post("check-merchant-api-key", {"apiKey": WL_TOKEN}, token=None)
    assert key.status_code == 201 and key.json()["data"] == {"isWhiteLabel": True}
    bad = api.post("check-merchant-api-key", {"apiKey": "nope"}, token=None)
    assert bad.status_code == 200 and bad.json()["status"] is False


def test_validation_failures_have_the_laravel_shape(api: Api) -> None:
    cases = {
        "order.amount": charge_body(amount=Decimal("0")),
        "order.currency": charge_body(order={"id": "A", "description": "d", "currency": "XYZ", "amount": 1}),
        "language": charge_body(language="fr"),
        "order.id": charge_body(order_id="x" * 51),
        "paymentGateway.src": charge_body(paymentGateway={"src": "bitcoin"}),
        "notificationUrl": charge_body(notificationUrl="not a url"),
    }
    for field, body in cases.items():
        response = api.post("charge", body)
        assert response.status_code == 422, field
        payload = response.json()
        assert field in payload["errors"], (field, payload)
        assert payload["message"] == next(iter(payload["errors"].values()))[0]
    too_precise = api.post("charge", charge_body(amount=Decimal("1.2345")))
    assert too_precise.status_code == 422 and "3 decimal" in too_precise.json()["errors"]["order.amount"][0]
    two_decimals = api.post("charge", charge_body(order={"id": "U1", "description": "d", "currency": "USD",
                                                         "amount": Decimal("1.234")}))
    assert two_decimals.status_code == 422
    assert api.post("charge", charge_body(order_id="x" * 50)).status_code == 201  # §16 A12: 50 is fine
    assert api.post("charge", [1, 2]).status_code == 422
    broken = api.http.post("charge", content=b"{not json", headers={"Authorization": "Bearer jtest123"})
    assert broken.status_code == 422 and broken.json()["errors"]["body"]
    huge = api.post("charge", charge_body(customerExtraData="x" * 70_000))
    assert huge.status_code == 413


def test_old_product_spelling_is_accepted(api: Api, sandbox: RunningSandbox) -> None:
    body = charge_body(products=None, product={"name": ["Mug", "Tea"], "price": [Decimal("2.500"), 1], "qty": [2, 3]})
    del body["products"]
    response = api.post("charge", body)
    assert response.status_code == 201
    record = sandbox.payment("ORD-1001")["payment"]
    assert record["products"] == [
        {"name": "Mug", "description": None, "price_fils": 2500, "quantity": 2},
        {"name": "Tea", "description": None, "price_fils": 1000, "quantity": 3},
    ]


def test_status_rate_limit_answers_429_with_retry_after(api: Api, sandbox: RunningSandbox) -> None:
    sandbox.configure(status_limit_per_minute=3)
    track = api.paid()["track_id"]
    for _ in range(3):
        assert api.get(f"get-payment-status/{track}").status_code == 201
    limited = api.get(f"get-payment-status/{track}")
    assert limited.status_code == 429 and limited.json() == {"message": "Too Many Attempts."}
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert api.get(f"get-payment-status/{track}", token=WL_TOKEN).status_code == 201  # the limit is per key
    assert api.get("check-payment-button-status").status_code == 201  # other endpoints are not limited


def test_unknown_ids_and_routes(api: Api) -> None:
    missing = api.get("get-payment-status/" + "A" * 32)
    assert missing.status_code == 404 and missing.json()["status"] is False
    assert api.get("get-payment-status").status_code == 422
    assert api.get("no-such-endpoint").json() == {"message": "The route could not be found."}


def test_button_status_and_expiry(api: Api, sandbox: RunningSandbox) -> None:
    buttons = api.get("check-payment-button-status").json()["data"]
    assert buttons["isWhiteLabel"] is False and all(buttons["payButtons"].values())
    assert api.get("check-payment-button-status", token=WL_TOKEN).json()["data"]["isWhiteLabel"] is True

    data = api.charge(paymentLinkExpiryInMinutes=5)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="microseconds")
    with sqlite3.connect(sandbox.config.db_path) as db:  # age the link in the sandbox's real database
        db.execute("UPDATE payment SET expires_at = ? WHERE session_id = ?", (past, data["session_id"]))
    assert api.status(session_id=data["session_id"])["status"] == "expired"
    page = httpx.get(data["link"])
    assert page.status_code == 410 and "expired" in page.text
    late = httpx.post(f"{sandbox.url}/__sandbox/complete", json={"session_id": data["session_id"]})
    assert late.status_code == 409


def test_deposit_status(api: Api, sandbox: RunningSandbox) -> None:
    done = api.paid()
    fresh = api.get(f"get-deposit-status/{done['track_id']}").json()["data"]["transaction"]
    assert fresh == {"deposited": "No", "deposited_date": None, "invoice_url": None}
    old = (datetime.now(UTC) - timedelta(days=10)).isoformat(timespec="microseconds")
    with sqlite3.connect(sandbox.config.db_path) as db:
        db.execute("UPDATE attempt SET created_at = ? WHERE track_id = ?", (old, done["track_id"]))
    settled = api.get(f"get-deposit-status/{done['track_id']}").json()["data"]["transaction"]
    assert settled["deposited"] == "Yes" and settled["deposited_date"].endswith("17:00:00")
    assert httpx.get(settled["invoice_url"]).status_code == 200
    assert api.get("get-deposit-status/unknown").status_code == 404
