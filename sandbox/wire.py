"""Pure builders of what the gateway sends: status transactions, redirect parameters and URLs (contract §6, §9)."""

from __future__ import annotations

import json
import zlib
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from services.money import format_amount
from services.timeutil import format_gateway_time

from .store import Row, from_iso

#: Gateway ``src`` words a payer can pay with (contract §4.1; ``amex`` as the plugins send it).
PAY_SOURCES = ("knet", "cc", "amex", "apple-pay", "apple-pay-knet", "google-pay", "samsung-pay")
#: Methods the hosted (non-white-label) page offers, in page order.
HOSTED_SOURCES = ("knet", "cc", "apple-pay", "google-pay", "samsung-pay")
RESULTS = {"captured": "CAPTURED", "declined": "NOT CAPTURED", "cancelled": "CANCELED", "canceled": "CANCELED"}


def normalise_src(word: str) -> str | None:
    """``apple_pay``/``card``/``Apple-Pay`` → the gateway ``src`` word, or None if unknown."""
    key = word.strip().lower().replace("_", "-")
    key = {"card": "cc", "credit-card": "cc", "creditcard": "cc"}.get(key, key)
    return key if key in PAY_SOURCES else None


def payment_type_for(src: str) -> str:
    """§16 A15: ``knet`` for KNET, ``cc`` for cards and wallets."""
    return "knet" if src == "knet" else "cc"


def gateway_time(value: str | datetime | None) -> str | None:
    """Stored UTC → the gateway's Kuwait-local ``YYYY-MM-DD HH:MM:SS``."""
    if value is None:
        return None
    moment = from_iso(value) if isinstance(value, str) else value
    return format_gateway_time(moment) if moment is not None else None


def redirect_params(payment: Row, attempt: Row, *, payment_method: bool = False) -> dict[str, str]:
    """The §9.2 parameters, in the documented order; the webhook carries the same (§10).

    As live redirects do (§18 F7): ``payment_type=card`` for cards and wallets, and ``upay_order_id``.
    ``trn_udf`` is sent empty: no source says what live puts there (§18 F8), so the sandbox invents nothing.
    ``payment_method`` (the src word actually used) only with the ``payment_method`` convenience.
    """
    params = {
        "payment_id": attempt["payment_id"],
        "result": attempt["result"],
        "post_date": attempt["post_date"],
        "tran_id": attempt["tran_id"],
        "ref": attempt["ref"],
        "track_id": attempt["track_id"],
        "auth": attempt["auth"],
        "order_id": payment["merchant_order_id"],  # §16 A16: the MERCHANT order id here, unlike in status
        "requested_order_id": payment["merchant_order_id"],
        "refund_order_id": attempt["upay_order_id"],
        "payment_type": "knet" if attempt["payment_type"] == "knet" else "card",
        "invoice_id": payment["invoice_no"],  # numeric on redirects (§18 F6), even for create-invoice charges
        "transaction_date": gateway_time(attempt["created_at"]) or "",
        "receipt_id": attempt["upay_order_id"],
        "upay_order_id": attempt["upay_order_id"],
        "trn_udf": "",
    }
    if payment_method:
        params["payment_method"] = attempt["src"]  # sandbox convenience: the src word (wallets visible)
    return params


def build_redirect_url(base: str, params: dict[str, str], *, quirk: bool = True) -> str:
    """``base`` plus the parameters; with ``quirk`` always joined by ``?`` like the real gateway (§9.3, A17).

    Values are percent-encoded (spaces as ``%20``, §16 A14).
    """
    query = urlencode(params, quote_via=quote)
    joiner = "&" if not quirk and "?" in base else "?"
    return f"{base}{joiner}{query}"


def _split_echo(stored: str | None, currency: str) -> str | None:
    """Status ``extra_merchants_data``: the charge's ``extraMerchantData`` serialised back (§6.2), or None."""
    if not stored:
        return None
    return json.dumps([{"amount": format_amount(v["amount_fils"], currency), **v["charges"], "ibanNumber": v["iban"]}
                       for v in json.loads(stored)])


def _customer_id(customer: dict[str, Any]) -> int | None:
    key = customer.get("uniqueId") or customer.get("mobile") or customer.get("email")
    return zlib.crc32(str(key).encode()) % 10_000_000 if key else None


def transaction(payment: Row, attempt: Row | None, *, expired: bool, payment_method: bool = False
                ) -> dict[str, Any]:
    """``data.transaction`` of get-payment-status (§6.2) with the §16 A6 alternates.

    ``payment_method`` (the src word actually used) only with the ``payment_method`` convenience.
    """
    customer = json.loads(payment["customer"] or "{}")
    products = json.loads(payment["products"] or "[]")
    currency = payment["currency"]
    total = format_amount(payment["amount_fils"], currency)
    upay = attempt["upay_order_id"] if attempt else None
    status = "done" if attempt else ("expired" if expired else "pending")  # "expired": simulator-chosen word
    src = attempt["src"] if attempt else payment["src"]
    notify_response = json.loads(attempt["notify_response"]) if attempt and attempt["notify_response"] else None
    product_details = json.dumps([
        {"name": p["name"], "description": p.get("description") or "", "quantity": p["quantity"],
         "price": format_amount(p["price_fils"], currency)} for p in products
    ]) if products else None
    tx = {
        "order_id": upay,  # §16 A16: the UPayments order id (needed for refunds)
        "refund_order_id": upay,
        "payment_id": attempt["payment_id"] if attempt else None,
        "result": attempt["result"] if attempt else None,
        "payment_type": attempt["payment_type"] if attempt else None,
        "track_id": attempt["track_id"] if attempt else payment["reserved_track_id"],
        "transaction_date": gateway_time(attempt["created_at"]) if attempt else None,
        "is_save_card": False,
        "from_plugin": False,
        "product_details": product_details,
        "reference": payment["reference"],
        "total_price": total,
        "total_paid_non_kwd": total if currency != "KWD" else None,
        "currency_type": currency,
        "status": status,
        "session_id": payment["session_id"],
        "error_url": payment["cancel_url"],
        "success_url": payment["return_url"],
        "redirect_url": attempt["redirect_url"] if attempt else None,
        "notify_url": payment["notify_url"],
        "notify_url_called": bool(attempt["notify_called"]) if attempt else False,
        "notify_url_response": notify_response,
        "whitelabel": bool(payment["whitelabel"]),
        "whitelabled": bool(payment["whitelabel"]),
        "customer_id": _customer_id(customer),
        "customer_unique_id": customer.get("uniqueId"),
        "customer_unq_id": customer.get("uniqueId"),
        "merchant_requested_order_id": payment["merchant_order_id"],
        "extra_merchants_data": _split_echo(payment.get("extra_merchants"), currency),
        "is_paid_from_knet": bool(attempt and attempt["payment_type"] == "knet" and attempt["result"] == "CAPTURED"),
        "is_paid_from_cc": bool(attempt and attempt["payment_type"] == "cc" and attempt["result"] == "CAPTURED"),
        "is_from_nbk": False,
        "customer_extra_data": payment["customer_extra_data"],
        "created_at": gateway_time(payment["created_at"]),
    }
    if payment_method:
        tx["payment_method"] = src if src in PAY_SOURCES else None  # sandbox convenience (see redirect_params)
    return tx
