"""Saved cards: customer unique token, hosted add-card page, list, remove, auto-deduct (contract §8, §18).

Every call is a POST that is never retried (``_request`` without ``retry``): a repeated auto-deduct is a second
charge, and the others are cheap to ask again by hand. An auto-deduct that raised an uncertain error
(:func:`errors.is_uncertain`) is never sent again. The live gateway has no status look-up by our order id (§6.1:
track id, session id or invoice id only) and auto-deduct sends no notification, so a lost answer is settled by a
person with the track id from the UPayments portal (``services.customers.charge_settle``).

Answers, as the official integrations read them (§18):

- ``create-customer-unique-token`` → 201 ``data.customerUniqueToken``; plugins treat any failure as non-fatal
  (the token may already exist), so :meth:`register` returns False instead of raising for refusals.
- ``add-card`` → 201 ``data.link`` (the hosted "my cards" page).
- ``retrieve-customer-cards`` → 201 ``data.customerCards[{brand, number (masked), scheme, token}]``.
- ``remove-card`` → 2xx; an unknown token → 422 "The selected card.token is invalid.".
- ``auto-deduct`` → **200** ``data{trackId, transaction{…}}``; F10: its ``order_id`` is *our* ``order.id``
  (unlike get-payment-status, where ``order_id`` is UPayments' id), and WooCommerce also reads camelCase
  ``paymentId, trackId, orderId, paid_amount`` — both casings are parsed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import Field

from services.money import EXPONENTS, parse_gateway_amount

from . import errors
from .charges import wire_amount
from .models import Customer, OptStr, _alias, _Wire
from .vocab import normalise_result
from .wire import data_object, parse_model

if TYPE_CHECKING:
    from .client import UPaymentsClient

#: A customer unique token: 8–18 digits, never a leading zero (a leading 0 broke older plugin versions, §18).
TOKEN_PATTERN = re.compile(r"^[1-9]\d{7,17}$")
#: What a masked card number may look like: digits only at the ends, ``x``/``*``/``•`` in between.
_MASKED = re.compile(r"^\d{0,6}[x*•X]{4,}\d{0,4}$")


class SavedCard(_Wire):
    """One saved card as retrieve-customer-cards lists it (no expiry is given, §18)."""

    token: str
    """The card token (16 digits); what remove-card and auto-deduct take. Never shown in full to staff."""
    brand: OptStr = None
    """``MASTERCARD``, ``VISA``, …"""
    number: str
    """Masked number as the gateway sends it, e.g. ``512345xxxxxx0008``."""
    scheme: OptStr = None
    """Card scheme."""

    @property
    def last4(self) -> str:
        digits = re.sub(r"\D", "", self.number[-4:])
        return digits or "????"


class AutoDeductResult(_Wire):
    """What ``auto-deduct`` answered (HTTP 200): the charge's ids and result."""

    track_id: OptStr = Field(None, validation_alias=_alias("track_id", "trackId"))
    """Gateway track id (use it for get-payment-status)."""
    payment_id: OptStr = Field(None, validation_alias=_alias("payment_id", "paymentId"))
    """Acquirer payment id."""
    merchant_order_id: OptStr = Field(None, validation_alias=_alias("order_id", "orderId"))
    """Our ``order.id`` echoed back (F10: not UPayments' order id here)."""
    invoice_id: OptStr = Field(None, validation_alias=_alias("invoice_id", "invoiceId"))
    """Invoice number."""
    session_id: OptStr = Field(None, validation_alias=_alias("session_id", "sessionId"))
    """Session id, usable for a status look-up."""
    result: OptStr = None
    """Normalised result word (CAPTURED, NOT CAPTURED, …)."""
    amount_fils: int | None = None
    """Amount charged in minor units (``amount`` or ``paid_amount``); None when absent."""
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)
    """``data`` as received."""

    @property
    def captured(self) -> bool:
        return self.result == "CAPTURED"


class CardsResource:
    """``client.cards``."""

    def __init__(self, client: UPaymentsClient) -> None:
        self._client = client

    def register(self, *, customer_token: str) -> bool:
        """``create-customer-unique-token``; True when created, False when refused (it may already exist).

        Connection problems still raise: the caller decides whether to go on (plugins do).
        """
        _check_token(customer_token)
        ids = {"customer_token": customer_token}
        try:
            self._client._request("POST", "create-customer-unique-token",
                                  body={"customerUniqueToken": int(customer_token)}, ids=ids)
        except (errors.BusinessRefusal, errors.ValidationFailed, errors.BadRequest):
            return False
        return True

    def add_card_link(self, *, customer_token: str, return_url: str) -> str:
        """``add-card``: the hosted page where the customer saves a card."""
        _check_token(customer_token)
        ids = {"customer_token": customer_token}
        envelope = self._client._request("POST", "add-card",
                                         body={"customerUniqueToken": int(customer_token), "returnUrl": return_url},
                                         ids=ids)
        data = data_object(envelope, None, "POST", "add-card", ids)
        link = data.get("link")
        if not isinstance(link, str) or not link.startswith(("https://", "http://")):
            raise errors.InvalidResponse("The add-card answer has no link", method="POST", path="add-card", ids=ids)
        return link

    def list(self, *, customer_token: str) -> list[SavedCard]:
        """``retrieve-customer-cards``: the customer's saved cards (masked numbers only)."""
        _check_token(customer_token)
        ids = {"customer_token": customer_token}
        path = "retrieve-customer-cards"
        envelope = self._client._request("POST", path, body={"customerUniqueToken": int(customer_token)}, ids=ids)
        data = envelope.get("data")
        items = data.get("customerCards") if isinstance(data, dict) else None
        if items is None:
            return []
        if not isinstance(items, list):
            raise errors.InvalidResponse("data.customerCards is not a list", method="POST", path=path, ids=ids)
        cards = [parse_model(SavedCard, item, "POST", path, ids) for item in items]
        for card in cards:
            if not _MASKED.match(card.number):
                # Never keep or show a full card number, whatever the gateway sends.
                raise errors.InvalidResponse("A card came back without a masked number", method="POST", path=path,
                                             ids=ids)
        return cards

    def remove(self, *, card_token: str) -> None:
        """``remove-card``; an unknown or removed token raises ValidationFailed (422)."""
        self._client._request("POST", "remove-card", body={"token": card_token}, ids={"card": _tail(card_token)})

    def auto_deduct(self, *, order_id: str, amount_fils: int, currency: str = "KWD", description: str,
                    card_token: str, customer: Customer, customer_token: str, language: str = "en",
                    reference_id: str | None = None) -> AutoDeductResult:
        """Charge a saved card without the customer (``auto-deduct``). Never retried: an uncertain error is
        settled by a person with the charge's track id (``client.payments.status``)."""
        currency, amount = wire_amount(amount_fils, currency)
        _check_token(customer_token)
        if not order_id or len(order_id) > 50:
            raise ValueError("order_id must be 1–50 characters.")
        order: dict[str, Any] = {"id": order_id, "reference": reference_id or order_id, "description": description,
                                 "currency": currency, "amount": amount}
        wire_customer = {"name": customer.name, "email": customer.email, "mobile": customer.mobile,
                         "uniqueToken": int(customer_token)}
        body: dict[str, Any] = {
            "order": order, "language": language, "reference": {"id": reference_id or order_id},
            "customer": {k: v for k, v in wire_customer.items() if v}, "card": {"token": card_token},
        }
        ids = {"order_id": order_id}
        envelope = self._client._request("POST", "auto-deduct", body=body, ids=ids)
        data = data_object(envelope, None, "POST", "auto-deduct", ids)
        return parse_auto_deduct(data, currency, ids)


def parse_auto_deduct(data: dict[str, Any], currency: str, ids: dict[str, str]) -> AutoDeductResult:
    """``data`` of an auto-deduct answer → AutoDeductResult, reading snake_case and camelCase (F10)."""
    tx_raw = data.get("transaction")
    tx: dict[str, Any] = tx_raw if isinstance(tx_raw, dict) else {}
    merged: dict[str, Any] = {**data, **tx}
    for camel, snake in (("trackId", "track_id"), ("paymentId", "payment_id"), ("orderId", "order_id"),
                         ("invoiceId", "invoice_id"), ("sessionId", "session_id")):
        if merged.get(snake) in (None, "") and merged.get(camel) not in (None, ""):
            merged[snake] = merged[camel]
        merged.pop(camel, None)
    amount = next((merged[k] for k in ("amount", "paid_amount", "total_price") if merged.get(k) is not None), None)
    cur = str(merged.get("currency") or merged.get("paid_currency") or currency).upper()
    fields = {k: merged.get(k) for k in ("track_id", "payment_id", "order_id", "invoice_id", "session_id")}
    try:
        amount_fils = parse_gateway_amount(amount, cur) if amount is not None and cur in EXPONENTS else None
        result = normalise_result(str(merged["result"])) if merged.get("result") else None
    except (ValueError, TypeError, ArithmeticError):
        raise errors.InvalidResponse("The auto-deduct answer has an unreadable amount or result", method="POST",
                                     path="auto-deduct", ids=ids) from None
    return parse_model(AutoDeductResult, {**fields, "result": result, "amount_fils": amount_fils, "raw": data},
                       "POST", "auto-deduct", ids)


def _check_token(token: str) -> None:
    if not isinstance(token, str) or not TOKEN_PATTERN.match(token):
        raise ValueError("A customer unique token is 8–18 digits without a leading zero.")


def _tail(token: str) -> str:
    """Only the last 4 characters of a card token go into logs and error messages."""
    return "…" + token[-4:] if token else ""
