"""Pure parts of the sandbox: redirect URLs (with the §9.3 quirk), ids, validation, limiter, faults, outcomes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from sandbox import ids
from sandbox.config import TOKEN_HOSTED, TOKEN_WHITE_LABEL, SandboxConfig, merchant_prefix
from sandbox.faults import Faults, FaultState
from sandbox.limiter import SlidingWindow
from sandbox.page import outcome
from sandbox.validation import Invalid, validate_charge, validate_refund
from sandbox.wire import build_redirect_url, normalise_src, payment_type_for, redirect_params, transaction

WHEN = datetime(2026, 3, 1, 18, 30, 5, tzinfo=UTC)  # 21:30:05 in Kuwait


def _payment(**overrides: Any) -> dict[str, Any]:
    row = {"session_id": "s" * 32, "merchant_order_id": "ORD-7", "invoice_code": None, "invoice_no": "784",
           "customer_extra_data": None, "customer": json.dumps({"uniqueId": "C1"}), "products": "[]",
           "currency": "KWD", "amount_fils": 10_000, "reference": "R1", "return_url": "https://s/r",
           "cancel_url": "https://s/c", "notify_url": "https://s/n", "whitelabel": 0, "src": None,
           "reserved_track_id": None, "created_at": WHEN.isoformat()}
    return row | overrides


def _attempt(**overrides: Any) -> dict[str, Any]:
    row = {"payment_id": "100326010000027219", "result": "NOT CAPTURED", "post_date": "0301", "tran_id": "1",
           "ref": "2", "track_id": "T" * 32, "auth": "", "upay_order_id": "ME3OdxVO6mORD-7", "payment_type": "knet",
           "src": "knet", "created_at": WHEN.isoformat(), "redirect_url": "x", "notify_called": 1,
           "notify_response": json.dumps({"success": True})}
    return row | overrides


def test_redirect_url_quirk_appends_with_a_second_question_mark() -> None:
    params = redirect_params(_payment(), _attempt())
    quirky = build_redirect_url("https://shop.example/ret?wc_order_id=55", params)
    assert quirky.startswith("https://shop.example/ret?wc_order_id=55?payment_id=100326010000027219&result=")
    fixed = build_redirect_url("https://shop.example/ret?wc_order_id=55", params, quirk=False)
    query = parse_qs(urlsplit(fixed).query, keep_blank_values=True)
    assert query["wc_order_id"] == ["55"] and query["result"] == ["NOT CAPTURED"]
    assert "result=NOT%20CAPTURED" in fixed and "transaction_date=2026-03-01%2021%3A30%3A05" in fixed
    plain = build_redirect_url("https://shop.example/ret", params, quirk=True)
    assert plain.startswith("https://shop.example/ret?payment_id=")


def test_redirect_params_use_the_merchant_order_id_and_live_extras() -> None:
    params = redirect_params(_payment(customer_extra_data="cart=77"), _attempt(src="google-pay", payment_type="cc"))
    assert list(params)[:8] == ["payment_id", "result", "post_date", "tran_id", "ref", "track_id", "auth",
                                "order_id"]
    assert params["order_id"] == params["requested_order_id"] == "ORD-7"  # §16 A16
    assert params["refund_order_id"] == params["receipt_id"] == "ME3OdxVO6mORD-7"
    assert "payment_method" not in params  # a sandbox convenience, off by default
    assert params["trn_udf"] == ""  # §18 F8: no invented meaning (not customerExtraData)
    assert params["payment_type"] == "card" and params["upay_order_id"] == "ME3OdxVO6mORD-7"  # §18 F7
    assert params["invoice_id"] == "784"
    convenient = redirect_params(_payment(), _attempt(src="google-pay"), payment_method=True)
    assert convenient["payment_method"] == "google-pay"


def test_transaction_emits_alternates_and_pending_shape() -> None:
    tx = transaction(_payment(), _attempt(result="CAPTURED"), expired=False)
    assert tx["order_id"] == tx["refund_order_id"] == "ME3OdxVO6mORD-7"
    assert tx["whitelabel"] is tx["whitelabled"] is False
    assert tx["customer_unique_id"] == tx["customer_unq_id"] == "C1"
    assert tx["notify_url_response"] == {"success": True} and tx["notify_url_called"] is True
    assert tx["total_price"] == "10.000" and tx["total_paid_non_kwd"] is None
    assert tx["transaction_date"] == "2026-03-01 21:30:05" and tx["is_paid_from_knet"] is True
    pending = transaction(_payment(currency="USD", amount_fils=1234), None, expired=True)
    assert pending["result"] is None and pending["status"] == "expired" and pending["order_id"] is None
    assert pending["total_price"] == pending["total_paid_non_kwd"] == "12.34"


def test_ids_have_the_gateway_shapes() -> None:
    assert re.fullmatch(r"[A-Za-z0-9]{32}", ids.track_id())
    assert re.fullmatch(r"[0-9a-f]{32}", ids.session_id())
    upay = ids.upay_order_id("ME3OdxVO6m", "202210101255255144669", WHEN)
    assert re.fullmatch(rf"ME3OdxVO6m202210101255255144669{int(WHEN.timestamp())}\d{{9}}[0-9a-f]{{12}}", upay)
    knet = ids.acquirer_ids("knet", WHEN, captured=True)
    assert re.fullmatch(r"\d{18}", knet.payment_id) and knet.post_date == "0301" and len(knet.auth) == 6
    card = ids.acquirer_ids("cc", WHEN, captured=False)
    assert re.fullmatch(r"[0-9a-f]{16}", card.payment_id) and card.tran_id == card.ref == card.auth == ""
    order_id, refund_order_id, arn = ids.refund_ids("ME3OdxVO6m", WHEN)
    assert re.fullmatch(r"[A-Za-z0-9]{32}", refund_order_id) and arn.startswith("20260301") and len(arn) == 30
    assert order_id.startswith("ME3OdxVO6m") and order_id.endswith(refund_order_id)  # §18 F3
    assert len({ids.track_id() for _ in range(500)}) == 500
    assert merchant_prefix(TOKEN_HOSTED) == "ME3OdxVO6m" and len(merchant_prefix("other")) == 10
    assert merchant_prefix(TOKEN_WHITE_LABEL) != merchant_prefix(TOKEN_HOSTED)


def test_src_words_and_payment_types() -> None:
    assert normalise_src("apple_pay") == "apple-pay" and normalise_src("card") == "cc"
    assert normalise_src("Samsung-Pay") == "samsung-pay" and normalise_src("paypal") is None
    assert [payment_type_for(s) for s in ("knet", "cc", "apple-pay-knet", "amex")] == ["knet", "cc", "cc", "cc"]


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"order": {"id": "A1", "description": "d", "currency": "KWD", "amount": Decimal("1.5")},
                            "language": "en", "returnUrl": "https://s/r", "cancelUrl": "https://s/c",
                            "notificationUrl": "https://s/n"}
    return body | overrides


def test_validate_charge_normalises_money_and_products() -> None:
    req = validate_charge(_body(products=[{"name": "Mug", "price": Decimal("2.250"), "qty": "2"}]),
                          white_label=False)
    assert req.amount_fils == 1500 and req.products == [{"name": "Mug", "description": None, "price_fils": 2250,
                                                         "quantity": 2}]
    assert validate_charge(_body(order={"id": 42, "description": "d", "currency": "kwd", "amount": 3}),
                           white_label=False).merchant_order_id == "42"
    with pytest.raises(Invalid) as exc:
        validate_charge(_body(paymentGateway={"src": "knet"}, language="de", returnUrl="ftp://x"), white_label=True)
    assert set(exc.value.errors) == {"language", "returnUrl"}
    with pytest.raises(Invalid) as exc:
        validate_charge(_body(order={"id": "A", "description": "d", "currency": "KWD", "amount": True}),
                        white_label=False)
    assert exc.value.errors == {"order.amount": ["The order.amount must be a number."]}
    with pytest.raises(Invalid):
        validate_charge(_body(products=[{"name": "x", "price": 1, "quantity": 0}]), white_label=False)


def test_validate_refund() -> None:
    assert validate_refund({"orderId": "X", "totalPrice": "2.5"}, {}).amount_fils == 2500
    assert validate_refund({"orderId": "X", "totalPrice": Decimal("2.5")}, {"X": "USD"}).amount_fils == 250
    with pytest.raises(Invalid) as exc:
        validate_refund({"orderId": "X", "totalPrice": Decimal("2.555")}, {"X": "USD"})
    assert "totalPrice" in exc.value.errors


def test_sliding_window_counts_accepted_calls_only() -> None:
    now = [1000.0]
    window = SlidingWindow(lambda: 2, clock=lambda: now[0])
    assert window.acquire("k") is None and window.acquire("k") is None
    assert window.acquire("k") == 60
    now[0] += 30
    assert window.acquire("k") == 30 and window.acquire("other") is None
    now[0] += 30.5
    assert window.acquire("k") is None
    assert SlidingWindow(lambda: 0, clock=lambda: 0.0).acquire("k") == 60


def test_fault_parsing_and_counting() -> None:
    faults = Faults.parse({"non_json": True, "paths": ["get-payment-status"], "count": 1, "latency_ms": 5})
    assert faults.non_json == 403 and faults.paths == ["/api/v1/get-payment-status"]
    state = FaultState()
    state.set(faults)
    assert state.take("/api/v1/charge") is None
    assert state.take("/api/v1/get-payment-status/x") is not None
    assert state.take("/api/v1/get-payment-status/x") is None  # count used up
    for bad in ({"error_rate": 1.5}, {"bogus": 1}, {"non_json": 99}, [1]):
        with pytest.raises((ValueError, TypeError)):
            Faults.parse(bad)


def test_page_outcomes_follow_the_test_cards() -> None:
    assert outcome("knet", "pay", "8888 8800 0000 0001") == "CAPTURED"
    assert outcome("knet", "pay", "8888880000000002") == "NOT CAPTURED"
    assert outcome("cc", "pay", "5123450000000008") == "CAPTURED"
    assert outcome("cc", "pay", "4000000000000002") == "NOT CAPTURED"
    assert outcome("apple-pay", "pay", "") == "CAPTURED" and outcome("google-pay", "decline", "") == "NOT CAPTURED"
    assert outcome("knet", "cancel", "8888880000000001") == "CANCELED"


def test_config_updates_are_checked() -> None:
    config = SandboxConfig(db_path="unused.db")
    config.update({"status_limit_per_minute": 5, "redirect_quirk": False, "webhook_hmac_secret": "k"})
    assert config.status_limit_per_minute == 5 and config.runtime_view()["webhook_hmac_secret"] == "***"
    for bad in ({"db_path": "x"}, {"webhook_encoding": "xml"}, {"status_limit_per_minute": -1},
                {"redirect_quirk": "yes"}):
        with pytest.raises(ValueError):
            config.update(bad)
    assert config.redirect_quirk is False  # refused updates change nothing
