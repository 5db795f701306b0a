"""Wire-level contract tests (contract §4, §6, §9, §12, §18): request shapes the official plugins send, answers the
docs show. They run against our sandbox by default and against the real UPayments sandbox host with
``SOUQ_CONTRACT_BASE_URL`` (see conftest). A field the docs do not list must not appear in an answer, so the sandbox
cannot teach the dashboard something live will not say.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from tests.contract.conftest import Target, plugin_charge

#: get-payment-status ``data.transaction`` keys (§6.2, with the §16 A6 alternates).
STATUS_KEYS = frozenset({
    "order_id", "refund_order_id", "payment_id", "result", "payment_type", "track_id", "transaction_date",
    "is_save_card", "from_plugin", "product_details", "reference", "total_price", "total_paid_non_kwd",
    "currency_type", "status", "session_id", "error_url", "success_url", "redirect_url", "notify_url",
    "notify_url_called", "notify_url_response", "whitelabel", "whitelabled", "customer_id", "customer_unique_id",
    "customer_unq_id", "merchant_requested_order_id", "extra_merchants_data", "is_paid_from_knet",
    "is_paid_from_cc", "is_from_nbk", "customer_extra_data", "created_at",
})
#: Redirect / notification parameters (§9.2, §18 F7).
REDIRECT_KEYS = frozenset({
    "payment_id", "result", "post_date", "tran_id", "ref", "track_id", "auth", "order_id", "requested_order_id",
    "refund_order_id", "payment_type", "invoice_id", "transaction_date", "receipt_id", "upay_order_id", "trn_udf",
})
REFUND_ITEM_KEYS = frozenset({"order_id", "is_refunded", "refunded_date"})  # §18 F2, exactly
SPLIT_ENTRY_KEYS = frozenset({"refundRequestId", "ibanNumber", "totalPaid", "refundedAmount", "remainingLimit",
                              "amountToRefund", "merchantType"})
GENERATED_KEYS = frozenset({"generatedInvoiceId", "amount", "orderId", "refundOrderId", "refundArn"})
VENDORS = [{"amount": Decimal("6.000"), "knetCharge": Decimal("0.250"), "knetChargeType": "fixed",
            "ccCharge": Decimal("2.5"), "ccChargeType": "percentage", "ibanNumber": "KW91KFHO0000000000051010173254"},
           {"amount": Decimal("4.000"), "knetCharge": Decimal("0.250"), "knetChargeType": "fixed",
            "ccCharge": Decimal("2.5"), "ccChargeType": "percentage", "ibanNumber": "KW31NBOK0000000000002010177457"}]


def envelope(answer: Any, status: int = 201) -> dict[str, Any]:
    """``{status:true, message, data}`` with the documented HTTP code (§1.4, §16 A8)."""
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert body["status"] is True and isinstance(body["message"], str)
    data: dict[str, Any] = body["data"]
    return data


def failed(answer: Any) -> bool:
    """Not a success: an error status, or 2xx with ``status:false`` (§1.5)."""
    if answer.status_code >= 400:
        return True
    try:
        return answer.json().get("status") is not True
    except ValueError:
        return True


def paid(target: Target, **extra: Any) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """Charge as a plugin does, pay by KNET on the hosted page; (charge data, redirect params, status transaction)."""
    sandbox = target.sandbox()  # skips first against the real host: nothing is charged there for nothing
    body = plugin_charge(**extra)
    data = envelope(target.post("charge", body))
    done = sandbox.complete(data["session_id"], method="knet", wait_webhook=False)
    query = done["redirect_url"].split("?", 1)[1].replace("?payment_id=", "&payment_id=")
    params = dict(parse_qsl(query, keep_blank_values=True))
    tx = envelope(target.get(f"get-payment-status/{params['track_id']}"))["transaction"]
    return data, params, tx


# ---------------------------------------------------------------- both targets


def test_a_charge_without_description_as_the_plugins_send_it_is_accepted(target: Target) -> None:
    data = envelope(target.post("charge", plugin_charge()))  # §18 F1
    assert re.match(r"^https?://", data["link"])
    assert "trackId" not in data  # non-white-label: the track id comes with the redirect (§4.2, §16 A13)


def test_no_bearer_is_401_with_a_message(target: Target) -> None:
    answer = target.post("charge", plugin_charge(), token=None)
    assert answer.status_code == 401 and isinstance(answer.json()["message"], str)


def test_a_charge_without_order_id_is_a_laravel_422(target: Target) -> None:
    body = plugin_charge()
    del body["order"]["id"]
    answer = target.post("charge", body)
    assert answer.status_code == 422
    assert isinstance(answer.json()["message"], str) and "errors" in answer.json()


def test_unknown_ids_are_no_success_and_the_numeric_invoice_id_is_not_a_lookup_key(target: Target) -> None:
    assert failed(target.get("get-payment-status/" + "Z" * 32))
    assert failed(target.get("get-payment-status", invoice_id="784"))  # §18 F6: the redirect's number


def test_button_status_is_booleans(target: Target) -> None:
    data = envelope(target.get("check-payment-button-status"))
    assert all(isinstance(v, bool) for v in data["payButtons"].values()) and isinstance(data["isWhiteLabel"], bool)


# ---------------------------------------------------------------- need a paid payment (our sandbox only)


def test_status_and_redirect_carry_only_documented_fields(target: Target) -> None:
    _, params, tx = paid(target)
    assert set(tx) <= STATUS_KEYS, set(tx) - STATUS_KEYS
    assert params.pop("wc_order_id") == "55"  # the merchant's own query is kept (§9.3 quirk repaired)
    assert set(params) <= REDIRECT_KEYS, set(params) - REDIRECT_KEYS
    assert params["payment_type"] in {"knet", "card"} and params["upay_order_id"] == params["refund_order_id"]  # F7
    assert params["order_id"] == tx["merchant_requested_order_id"] != tx["order_id"]  # §16 A16
    assert params["invoice_id"].isdigit()  # numeric on redirects (F6)
    assert params["trn_udf"] == ""  # F8: nothing invented


def test_refund_answers_and_cancelling_while_initiated(target: Target) -> None:
    _, _, tx = paid(target)
    created = envelope(target.post("create-refund", {"orderId": tx["order_id"], "totalPrice": Decimal("2.500")}))
    assert set(created) == {"orderId", "refundOrderId", "refundArn"}
    assert re.fullmatch(r"[A-Za-z0-9]{32}", created["refundOrderId"])
    assert created["orderId"].endswith(created["refundOrderId"])  # §18 F3
    [item] = envelope(target.get(f"check-refund/{tx['order_id']}"))["refund"]
    assert set(item) == REFUND_ITEM_KEYS and item["is_refunded"] is False  # §18 F2
    deleted = envelope(target.post("delete-refund", {"orderId": created["orderId"],
                                                     "refundOrderId": created["refundOrderId"]}))
    assert set(deleted) == {"order_id", "refund_order_id"}
    assert envelope(target.get(f"check-refund/{tx['order_id']}"))["refund"] == []  # deleted ones drop out
    wrong = target.post("delete-refund", {"orderId": tx["order_id"], "refundOrderId": created["refundOrderId"]})
    assert failed(wrong)  # the refund's own orderId is required, not the payment's


def test_split_payment_refund_flow(target: Target) -> None:
    _, _, tx = paid(target, extraMerchantData=VENDORS)
    asked = envelope(target.post("create-refund", {"orderId": tx["order_id"], "totalPrice": Decimal("1.000")}))
    assert asked["isMultivendorRefund"] is True and set(asked) == {"orderId", "isMultivendorRefund", "refundPayload"}
    assert all(set(entry) == SPLIT_ENTRY_KEYS for entry in asked["refundPayload"])
    assert envelope(target.get(f"check-refund/{tx['order_id']}"))["refund"] == []  # nothing was refunded
    payload = [entry | {"amountToRefund": amount} for entry, amount in zip(asked["refundPayload"], (2, 0),
                                                                            strict=True)]
    made = envelope(target.post("create-multivendor-refund", {"orderId": asked["orderId"],
                                                              "refundPayload": payload}))
    assert {"responseData", "dataTempered", "refundIssue", "insufficientBalance"} <= set(made)
    [generated] = made["responseData"]["generated"]
    assert set(generated) == GENERATED_KEYS and generated["orderId"].endswith(generated["refundOrderId"])
    gone = envelope(target.post("delete-multivendor-refund", {k: generated[k] for k in (
        "generatedInvoiceId", "orderId", "refundOrderId", "refundArn")}))
    assert set(gone) == {"order_id", "refund_order_id"}


def test_a_vendor_without_balance_is_listed_and_refunds_nothing(target: Target) -> None:
    target.sandbox().configure(vendor_balance_fils=1_000)  # admin API: our sandbox only
    _, _, tx = paid(target, extraMerchantData=VENDORS)
    asked = envelope(target.post("create-refund", {"orderId": tx["order_id"], "totalPrice": Decimal("3.000")}))
    payload = [entry | {"amountToRefund": amount} for entry, amount in zip(asked["refundPayload"], (3, 0),
                                                                            strict=True)]
    made = envelope(target.post("create-multivendor-refund", {"orderId": asked["orderId"],
                                                              "refundPayload": payload}))
    assert made["responseData"]["generated"] == []
    assert [e["ibanNumber"] for e in made["insufficientBalance"]] == [VENDORS[0]["ibanNumber"]]
