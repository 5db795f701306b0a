"""Wire format: exact decimal amounts in request bodies, tolerant response models (§16 alternates)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from services.gateway import (
    Customer,
    DepositStatus,
    LegacyRefundStatus,
    PayButtons,
    Product,
    RefundCreated,
    RefundStatusItem,
    Transaction,
    UPaymentsClient,
)
from services.gateway.charges import build_charge_body
from services.gateway.wire import dumps


def test_dumps_writes_decimals_verbatim_and_refuses_floats():
    assert dumps({"a": Decimal("10.000"), "b": [1, True, None, "ك"]}) == '{"a":10.000,"b":[1,true,null,"ك"]}'.encode()
    assert dumps(Decimal("0.005")) == b"0.005"
    assert dumps(Decimal("1E+3")) == b"1000"
    with pytest.raises(TypeError, match="floats"):
        dumps({"amount": 10.0})
    with pytest.raises(ValueError):
        dumps(Decimal("NaN"))


def capture_client(sent: list[httpx.Request], data: dict) -> UPaymentsClient:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(201, json={"status": True, "message": "ok", "data": data})

    return UPaymentsClient("https://gw.test/api/v1", "tok", transport=httpx.MockTransport(handler))


def test_charge_body_has_exact_amount_text():
    sent: list[httpx.Request] = []
    with capture_client(sent, {"link": "https://kpaytest.com.kw/x", "trackId": "TRK"}) as c:
        result = c.charges.create(
            order_id="ORD-1001", amount_fils=10000, description="Web order", return_url="https://r",
            cancel_url="https://c", notification_url="https://n", src="knet", reference_id="REF1",
            customer=Customer(name="Sara", mobile="+96550000000", unique_id="C42"),
            products=[Product(name="Mug", price_fils=2500, quantity=2), Product(name="Tea", price_fils=5000,
                                                                                   quantity=1)],
            customer_extra_data="cart=77", expiry_minutes=60,
        )
    raw = sent[0].content.decode()
    assert '"amount":10.000' in raw
    assert '"price":2.500' in raw and '"price":5.000' in raw
    body = json.loads(raw)
    assert body["order"] == {"id": "ORD-1001", "description": "Web order", "currency": "KWD", "amount": 10.0,
                             "reference": "REF1"}
    assert body["paymentGateway"] == {"src": "knet"}
    assert body["reference"] == {"id": "REF1"}
    assert body["customer"] == {"uniqueId": "C42", "name": "Sara", "mobile": "+96550000000"}
    assert body["tokens"] == {} and body["language"] == "en"
    assert (body["returnUrl"], body["cancelUrl"], body["notificationUrl"]) == ("https://r", "https://c", "https://n")
    assert body["customerExtraData"] == "cart=77" and body["paymentLinkExpiryInMinutes"] == 60
    assert sent[0].headers["content-type"] == "application/json"
    assert str(sent[0].url) == "https://gw.test/api/v1/charge"
    assert result.link == "https://kpaytest.com.kw/x" and result.track_id == "TRK"


def test_two_decimal_currency_and_refund_amount():
    body = build_charge_body(order_id="O", amount_fils=1999, currency="usd", description="d", language="ar",
                             return_url="r", cancel_url="c", notification_url="n", src=None,
                             notification_type=None, customer=None, products=None, reference_id=None,
                             expiry_minutes=None, customer_extra_data=None)
    assert dumps(body["order"]) == b'{"id":"O","description":"d","currency":"USD","amount":19.99}'
    assert "paymentGateway" not in body
    sent: list[httpx.Request] = []
    with capture_client(sent, {"orderId": "R1", "refundOrderId": "RO1", "refundArn": "123"}) as c:
        created = c.refunds.create(order_id="UPAY1", amount_fils=1, reference="rf-1")
    assert b'"totalPrice":0.001' in sent[0].content
    assert created == RefundCreated(order_id="R1", refund_order_id="RO1", refund_arn="123",
                                    raw={"orderId": "R1", "refundOrderId": "RO1", "refundArn": "123"})


@pytest.mark.parametrize(
    ("kw", "exc"),
    [
        ({"amount_fils": 10.5}, TypeError),
        ({"amount_fils": True}, TypeError),
        ({"amount_fils": Decimal("10")}, TypeError),
        ({"amount_fils": 0}, ValueError),
        ({"amount_fils": -5}, ValueError),
        ({"amount_fils": 10**12}, ValueError),
        ({"currency": "XYZ"}, ValueError),
        ({"language": "fr"}, ValueError),
        ({"src": "paypal"}, ValueError),
        ({"src": "create-invoice"}, ValueError),
        ({"notification_type": "fax"}, ValueError),
        ({"order_id": "x" * 51}, ValueError),
        ({"expiry_minutes": 0}, ValueError),
    ],
)
def test_charge_refuses_bad_input_before_sending(kw, exc):
    sent: list[httpx.Request] = []
    args = {"order_id": "O1", "amount_fils": 1000, "description": "d", "return_url": "r", "cancel_url": "c",
            "notification_url": "n"} | kw
    with capture_client(sent, {"link": "x"}) as c, pytest.raises(exc):
        c.charges.create(**args)
    assert sent == []


def test_invoice_answer_uses_url_not_boolean_link():
    sent: list[httpx.Request] = []
    data = {"sms": False, "email": True, "link": True, "url": "https://uinvoice.upayments.com/48avAzbeLV",
            "invoice_id": "48avAzbeLV"}
    with capture_client(sent, data) as c:
        r = c.charges.create(order_id="O2", amount_fils=2500, description="d", return_url="r", cancel_url="c",
                             notification_url="n", src="create-invoice", notification_type="email",
                             customer=Customer(email="a@b.c"))
    assert r.link == "https://uinvoice.upayments.com/48avAzbeLV"
    assert (r.invoice_id, r.sms_sent, r.email_sent) == ("48avAzbeLV", False, True)
    assert json.loads(sent[0].content)["notificationType"] == "email"


STATUS_OAS = {
    "order_id": "ME3Odx", "refund_order_id": "ME3Odx", "payment_id": "100326010000027219", "result": "CAPTURED",
    "payment_type": "knet", "track_id": 20230850102601914084398025340, "transaction_date": "2023-06-17 10:36:43",
    "reference": "REF1", "total_price": "10.000", "currency_type": "KWD", "status": "done",
    "session_id": "cf30", "notify_url_called": True, "notify_url_response": {"success": True},
    "whitelabel": False, "customer_unique_id": "C1", "merchant_requested_order_id": "ORD-1",
}


def test_transaction_from_oas_shape():
    t = Transaction.model_validate(STATUS_OAS)
    assert t.upay_order_id == "ME3Odx" and t.merchant_order_id == "ORD-1"
    assert t.track_id == "20230850102601914084398025340"  # A7: numbers become opaque text
    assert t.amount_fils == 10000 and t.currency == "KWD"
    assert t.transaction_at == datetime(2023, 6, 17, 7, 36, 43, tzinfo=UTC)
    assert t.result == "CAPTURED" and t.method == "knet" and t.status == "done"
    assert t.notify_url_called is True and t.whitelabel is False and t.customer_unique_id == "C1"
    assert t.raw == STATUS_OAS


def test_transaction_alternates_and_nulls():
    alt = {"order_id": "U", "result": "Cancelled", "payment_type": "cc", "payment_method": "google-pay",
           "total_price": "2.5", "currency_type": "USD", "whitelabled": True, "customer_unq_id": "C9",
           "notify_url_response": "OK", "transaction_date": None, "merchant_requested_order_id": "O9"}
    t = Transaction.model_validate(alt)
    assert t.result == "CANCELED" and t.method == "google_pay" and t.amount_fils == 250
    assert t.whitelabel is True and t.customer_unique_id == "C9" and t.transaction_at is None
    pending = Transaction.model_validate({"order_id": "U", "result": None, "total_price": None, "status": "expired"})
    assert pending.result is None and pending.amount_fils is None and pending.status == "expired"
    odd = Transaction.model_validate({"total_price": "7.00", "currency_type": "JPY"})
    assert odd.amount_fils is None and odd.currency == "JPY"
    with pytest.raises(ValueError):
        Transaction.model_validate({"total_price": "1.0005", "currency_type": "KWD"})


def test_small_models():
    assert RefundStatusItem.model_validate(
        {"order_id": "R1", "is_refunded": True, "refunded_date": "2024-01-11 17:26:02"}
    ).refunded_at == datetime(2024, 1, 11, 14, 26, 2, tzinfo=UTC)
    assert RefundStatusItem.model_validate({"order_id": "R1", "is_refunded": 0}).is_refunded is False
    assert LegacyRefundStatus.model_validate({"is_refunded": "false", "is_refunded_date": None}).is_refunded is False
    d = DepositStatus.model_validate({"deposited": "Yes", "deposited_date": "2024-01-11 17:26:02",
                                      "invoice_url": "https://uinvoice.upayments.com/x"})
    assert d.deposited is True and d.deposited_at is not None
    assert DepositStatus.model_validate({"deposited": "No", "deposited_date": ""}).deposited is False
    b = PayButtons.model_validate({"payButtons": {"knet": True, "credit_card": 1, "samsung_pay": False,
                                                  "apple_pay": "true", "amex": False}, "isWhiteLabel": True})
    assert (b.knet, b.credit_card, b.apple_pay, b.google_pay, b.is_white_label) == (True, True, True, False, True)
    assert RefundCreated.model_validate({"order_id": "a", "refund_order_id": "b", "refund_arn": "c"}).refund_arn == "c"
