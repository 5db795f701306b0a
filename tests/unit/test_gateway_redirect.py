"""Redirect and webhook parsing (contract §9, §10) and the result/method vocabulary."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from services.gateway import method_from, parse_notification, parse_redirect, result_to_status
from services.gateway.vocab import normalise_result

UPAY = "ME3OdxVO6m2022101012552551446691694936179696991736506ac732af12"
OAS_URL = (
    "https://success.com/en/?payment_id=100326010000027219&result=CAPTURED&post_date=0917"
    "&tran_id=326010006152380&ref=326010000134&track_id=GWdK07j0XPriuCbzimCHh5MmyrZuSd2J&auth=B03692"
    "&order_id=202210101255255144669&requested_order_id=202210101255255144669"
    f"&refund_order_id={UPAY}&payment_type=knet&invoice_id=784&transaction_date=2023-09-17 10:09:36"
    f"&receipt_id={UPAY}"
)


def test_oas_example_url():
    p = parse_redirect(OAS_URL)
    assert p.merchant_order_id == "202210101255255144669"  # A16: redirect order_id is OUR id
    assert p.upay_order_id == UPAY
    assert p.track_id == "GWdK07j0XPriuCbzimCHh5MmyrZuSd2J"
    assert p.payment_id == "100326010000027219"
    assert p.result == "CAPTURED"
    assert p.payment_type == "knet" and p.method == "knet"
    assert p.invoice_id == "784"
    assert p.tran_id == "326010006152380" and p.ref == "326010000134" and p.auth == "B03692"
    assert p.post_date == "0917"
    # 10:09:36 Kuwait time is 07:09:36 UTC
    assert p.transaction_at == datetime(2023, 9, 17, 7, 9, 36, tzinfo=UTC)
    assert p.merchant_params == {}
    assert p.raw["receipt_id"] == UPAY


def test_question_mark_payment_id_quirk():
    url = ("https://shop.example/pay/return?wc_order_id=55?payment_id=123&result=CAPTURED&track_id=T1"
           "&order_id=ORD-55&payment_type=cc")
    p = parse_redirect(url)
    assert p.merchant_params == {"wc_order_id": "55"}
    assert p.payment_id == "123" and p.result == "CAPTURED" and p.track_id == "T1"
    assert p.merchant_order_id == "ORD-55"
    assert p.method == "card"
    # same when only the query string is given, with or without "?"
    for q in ("wc_order_id=55?payment_id=123&result=CAPTURED", "?wc_order_id=55?payment_id=123&result=CAPTURED"):
        q_parsed = parse_redirect(q)
        assert q_parsed.merchant_params == {"wc_order_id": "55"} and q_parsed.payment_id == "123"


def test_quirk_with_several_merchant_params_and_encoded_values():
    url = "https://s/r?a=1&b=x%3Fy?payment_id=9&result=NOT%20CAPTURED"
    p = parse_redirect(url)
    assert p.merchant_params == {"a": "1", "b": "x?y"}  # an encoded ? in a value is data, not the quirk
    assert p.payment_id == "9" and p.result == "NOT CAPTURED"


@pytest.mark.parametrize("encoded", ["NOT+CAPTURED", "NOT%20CAPTURED", "not%20captured", "NOT CAPTURED"])
def test_not_captured_encodings(encoded):
    p = parse_redirect(f"https://s/c?payment_id=1&result={encoded}")
    assert p.result == "NOT CAPTURED"
    assert result_to_status(p.result) == "failed"


@pytest.mark.parametrize("word", ["CANCELLED", "CANCELED", "Cancelled"])
def test_cancel_spellings(word):
    p = parse_redirect(f"https://s/c?result={word}&track_id=T")
    assert p.result == "CANCELED"
    assert result_to_status(word) == "cancelled"


def test_empty_values_become_none():
    p = parse_redirect("https://s/r?payment_id=04cc4e9d476e4dea&result=CAPTURED&post_date&tran_id=&ref=&track_id=T")
    assert p.post_date is None and p.tran_id is None and p.ref is None
    assert p.payment_id == "04cc4e9d476e4dea"
    assert p.raw["tran_id"] == ""


def test_no_query_and_fragment():
    assert parse_redirect("https://s/r").track_id is None
    assert parse_redirect("https://s/r").merchant_params == {}
    p = parse_redirect("https://s/r?track_id=T1#section")
    assert p.track_id == "T1"


def test_plus_is_space_in_merchant_params_and_simulator_method():
    p = parse_redirect("https://s/r?note=hello+world&payment_method=apple-pay&payment_type=cc&result=CAPTURED")
    assert p.merchant_params == {"note": "hello world"}
    assert p.method == "apple_pay"


def test_legacy_v1_names():
    p = parse_redirect("https://s/r?PaymentID=55&Result=CAPTURED&TrackID=777&OrderID=ORD-9")
    assert (p.payment_id, p.result, p.track_id, p.merchant_order_id) == ("55", "CAPTURED", "777", "ORD-9")


def test_notification_form_encoded():
    body = (b"payment_id=1&result=NOT+CAPTURED&track_id=T2&requested_order_id=ORD-2&refund_order_id=U2"
            b"&payment_type=knet&transaction_date=2024-01-11+17%3A26%3A02")
    p = parse_notification(body, "application/x-www-form-urlencoded")
    assert (p.track_id, p.merchant_order_id, p.upay_order_id, p.result) == ("T2", "ORD-2", "U2", "NOT CAPTURED")
    assert p.transaction_at == datetime(2024, 1, 11, 14, 26, 2, tzinfo=UTC)


def test_notification_json_with_numbers_and_nesting():
    payload = {"payment_id": 100326010000027219, "result": "CAPTURED", "track_id": "T3", "order_id": "ORD-3",
               "invoice_id": 784, "customer": {"uniqueId": "C1"}, "is_test": True}
    p = parse_notification(json.dumps(payload).encode(), "application/json; charset=utf-8")
    assert p.payment_id == "100326010000027219" and p.invoice_id == "784" and p.merchant_order_id == "ORD-3"
    assert p.raw["customer"] == {"uniqueId": "C1"}
    wrapped = parse_notification(json.dumps({"data": payload}).encode(), None)
    assert wrapped.track_id == "T3"


def test_notification_refuses_garbage_and_huge_bodies():
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_notification(b'{"result": ', "application/json")
    with pytest.raises(ValueError, match="not an object"):
        parse_notification(b"[1]", "application/json")
    with pytest.raises(ValueError, match="larger"):
        parse_notification(b"a=" + b"x" * 70_000, "application/x-www-form-urlencoded")


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("CAPTURED", "paid"), ("SUCCESS", "paid"), ("captured", "paid"), ("REFUND", "paid"),
        ("NOT CAPTURED", "failed"), ("ERROR", "failed"), ("FAILED", "failed"), ("FAILURE", "failed"),
        ("CANCELED", "cancelled"), ("CANCELLED", "cancelled"), ("VOIDED", "cancelled"),
        ("PENDING", "pending"), ("AUTHORIZED", "pending"), ("APPROVED", "pending"), ("Processing", "pending"),
        (None, "pending"), ("", "pending"), ("null", "pending"), ("SOMETHING NEW", "pending"),
    ],
)
def test_result_to_status(word, status):
    assert result_to_status(word) == status


def test_normalise_result():
    assert normalise_result("  not_captured ") == "NOT CAPTURED"
    assert normalise_result("NOTCAPTURED") == "NOT CAPTURED"
    assert normalise_result(None) is None and normalise_result(" ") is None


@pytest.mark.parametrize(
    ("payment_method", "payment_type", "method"),
    [
        ("knet", "knet", "knet"), ("cc", "cc", "card"), ("amex", "cc", "amex"), ("apple-pay", "cc", "apple_pay"),
        ("apple-pay-knet", "knet", "apple_pay_knet"), ("google-pay", "cc", "google_pay"),
        ("samsung-pay", "cc", "samsung_pay"), (None, "knet", "knet"), (None, "cc", "card"),
        (None, "card", "card"), ("", "CC", "card"), ("bitcoin", None, None), (None, None, None),
    ],
)
def test_method_from(payment_method, payment_type, method):
    assert method_from(payment_method, payment_type) == method
