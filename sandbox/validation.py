"""Laravel-style validation of ``POST charge`` and ``POST create-refund`` bodies (contract §4.1, §12.1, §1.5)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from services.money import EXPONENTS, InvalidAmount, parse_amount

from .wire import PAY_SOURCES

NOTIFICATION_TYPES = ("email", "sms", "link", "all")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MOBILE = re.compile(r"^\+?\d{7,15}$")


class Invalid(Exception):
    """Validation failed: ``errors`` maps field → messages (first message becomes the 422 ``message``)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(next(iter(errors.values()))[0])
        self.errors = errors


@dataclass
class ChargeRequest:
    """A valid charge, normalised (money in minor units)."""

    merchant_order_id: str
    description: str
    currency: str
    amount_fils: int
    language: str
    return_url: str
    cancel_url: str
    notify_url: str
    src: str | None = None
    notification_type: str | None = None
    order_reference: str | None = None
    reference: str | None = None
    customer: dict[str, str] = field(default_factory=dict)
    products: list[dict[str, Any]] = field(default_factory=list)
    customer_extra_data: str | None = None
    expiry_minutes: int | None = None
    extra_merchants: list[dict[str, Any]] = field(default_factory=list)


class _Errors:
    def __init__(self) -> None:
        self.items: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.items.setdefault(name, []).append(message)

    def raise_if_any(self) -> None:
        if self.items:
            raise Invalid(self.items)


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | Decimal):
        return str(value)
    return value.strip() if isinstance(value, str) else None


def _amount(errs: _Errors, name: str, value: Any, currency: str, *, allow_zero: bool = False) -> int | None:
    if value is None or value == "":
        errs.add(name, f"The {name} field is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        errs.add(name, f"The {name} must be a number.")
        return None
    try:
        return parse_amount(value if not isinstance(value, str) else value.strip(), currency,
                            allow_zero=allow_zero)
    except InvalidAmount as exc:
        msg = str(exc)
        if "greater than zero" in msg:
            errs.add(name, f"The {name} must be greater than 0.")
        elif "decimals" in msg:
            errs.add(name, f"The {name} must have at most {EXPONENTS.get(currency, 2)} decimal places.")
        else:
            errs.add(name, f"The {name} must be a number. {msg}")
        return None


def _url(errs: _Errors, body: dict[str, Any], name: str) -> str:
    value = _text(body.get(name))
    if not value:
        errs.add(name, f"The {name} field is required.")
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        errs.add(name, f"The {name} must be a valid URL.")
    return value


def _products(errs: _Errors, body: dict[str, Any], currency: str) -> list[dict[str, Any]]:
    """``products[{name, description, price, quantity}]`` or the older ``product`` spellings (§16 A10)."""
    raw: Any = body.get("products")
    if raw is None and isinstance(body.get("product"), dict):
        columns = body["product"]
        names = columns.get("name") or columns.get("title") or []
        raw = [
            {"name": n, "description": (columns.get("description") or [None] * len(names))[i],
             "price": (columns.get("price") or [None] * len(names))[i],
             "qty": (columns.get("qty") or columns.get("quantity") or [1] * len(names))[i]}
            for i, n in enumerate(names if isinstance(names, list) else [])
        ]
    elif raw is None:
        raw = body.get("product")
    if raw is None:
        return []
    if not isinstance(raw, list):
        errs.add("products", "The products must be an array.")
        return []
    items: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            errs.add(f"products.{i}", f"The products.{i} must be an object.")
            continue
        name = _text(item.get("name") or item.get("title")) or ""
        if len(name) > 255:
            errs.add(f"products.{i}.name", f"The products.{i}.name may not be greater than 255 characters.")
        price = _amount(errs, f"products.{i}.price", item.get("price", 0), currency, allow_zero=True)
        qty = item.get("quantity", item.get("qty", 1))
        if isinstance(qty, str) and qty.strip().isdigit():
            qty = int(qty)
        if isinstance(qty, bool) or not isinstance(qty, int) or qty < 1:
            errs.add(f"products.{i}.quantity", f"The products.{i}.quantity must be an integer of at least 1.")
            qty = 1
        items.append({"name": name, "description": _text(item.get("description")), "price_fils": price or 0,
                      "quantity": qty})
    return items


def validate_charge(body: Any, *, white_label: bool) -> ChargeRequest:
    """Check a charge body; raises :class:`Invalid` with every problem found."""
    errs = _Errors()
    if not isinstance(body, dict):
        raise Invalid({"body": ["The request body must be a JSON object."]})
    order = body.get("order")
    if not isinstance(order, dict):
        errs.add("order", "The order field is required." if order is None else "The order must be an object.")
        order = {}
    order_id = _text(order.get("id"))
    if not order_id:
        errs.add("order.id", "The order.id field is required.")
    elif len(order_id) > 50:  # §16 A12: 40 on one page, 50 on another; refuse only above 50
        errs.add("order.id", "The order.id may not be greater than 50 characters.")
    description = _text(order.get("description")) or ""
    # §18 F1: production plugins send only order{id, amount, currency}; live accepts a charge without it.
    if len(description) > 500:
        errs.add("order.description", "The order.description may not be greater than 500 characters.")
    currency = (_text(order.get("currency")) or "").upper()
    if not currency:
        errs.add("order.currency", "The order.currency field is required.")
    elif currency not in EXPONENTS:
        errs.add("order.currency", "The selected order.currency is invalid.")
    amount = _amount(errs, "order.amount", order.get("amount"), currency if currency in EXPONENTS else "KWD")
    language = _text(body.get("language"))
    if not language:
        errs.add("language", "The language field is required.")
    elif language not in ("en", "ar"):
        errs.add("language", "The selected language is invalid.")
    gateway = body.get("paymentGateway")
    src = _text(gateway.get("src")) if isinstance(gateway, dict) else None
    src = src.lower() if src else None
    if src and src not in (*PAY_SOURCES, "create-invoice"):
        errs.add("paymentGateway.src", "The selected payment gateway.src is invalid.")
    elif not src and white_label:
        errs.add("paymentGateway.src", "The payment gateway.src field is required.")
    customer_raw: dict[str, Any] = body["customer"] if isinstance(body.get("customer"), dict) else {}
    customer = {k: v for k in ("uniqueId", "name", "email", "mobile") if (v := _text(customer_raw.get(k)))}
    notification = _text(body.get("notificationType"))
    if src == "create-invoice":
        if not notification:
            errs.add("notificationType", "The notification type field is required when payment gateway.src is "
                                         "create-invoice.")
        elif notification not in NOTIFICATION_TYPES:
            errs.add("notificationType", "The selected notification type is invalid.")
        elif notification in ("email", "all") and not customer.get("email"):
            errs.add("customer.email", "The customer.email field is required when notification type is "
                                       f"{notification}.")
        elif notification in ("sms", "all") and not customer.get("mobile"):
            errs.add("customer.mobile", "The customer.mobile field is required when notification type is "
                                        f"{notification}.")
    if customer.get("email") and not _EMAIL.match(customer["email"]):
        errs.add("customer.email", "The customer.email must be a valid email address.")
    if customer.get("mobile") and not _MOBILE.match(customer["mobile"].replace(" ", "")):
        errs.add("customer.mobile", "The customer.mobile format is invalid.")
    return_url, cancel_url = _url(errs, body, "returnUrl"), _url(errs, body, "cancelUrl")
    notify_url = _url(errs, body, "notificationUrl")
    products = _products(errs, body, currency if currency in EXPONENTS else "KWD")
    expiry = body.get("paymentLinkExpiryInMinutes")
    if expiry is not None and (isinstance(expiry, bool) or not isinstance(expiry, int) or expiry < 1):
        errs.add("paymentLinkExpiryInMinutes", "The payment link expiry in minutes must be an integer of at "
                                               "least 1.")
    reference = body.get("reference")
    extra = body.get("customerExtraData")
    vendors = _extra_merchants(errs, body, currency if currency in EXPONENTS else "KWD", amount, src)
    errs.raise_if_any()
    assert order_id and amount is not None and language
    return ChargeRequest(
        merchant_order_id=order_id, description=description, currency=currency, amount_fils=amount,
        language=language, return_url=return_url, cancel_url=cancel_url, notify_url=notify_url,
        src=src or None, notification_type=notification if src == "create-invoice" else None,
        order_reference=_text(order.get("reference")),
        reference=_text(reference.get("id")) if isinstance(reference, dict) else _text(reference),
        customer=customer, products=products,
        customer_extra_data=_text(extra) if extra is not None else None, expiry_minutes=expiry,
        extra_merchants=vendors,
    )


_CHARGE_TYPES = ("fixed", "percentage")


def _extra_merchants(errs: _Errors, body: dict[str, Any], currency: str, total: int | None, src: str | None
                     ) -> list[dict[str, Any]]:
    """``extraMerchantData[{amount, knetCharge, knetChargeType, ccCharge, ccChargeType, ibanNumber}]`` (§11.2)."""
    raw = body.get("extraMerchantData", body.get("ExtraMerchantsData"))
    if raw is None or raw == []:
        return []
    if src == "create-invoice":  # §5: not allowed together
        errs.add("extraMerchantData", "The extra merchant data cannot be used with create-invoice.")
        return []
    if not isinstance(raw, list):
        errs.add("extraMerchantData", "The extra merchant data must be an array.")
        return []
    vendors: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        name = f"extraMerchantData.{i}"
        if not isinstance(item, dict):
            errs.add(name, f"The {name} must be an object.")
            continue
        share = _amount(errs, f"{name}.amount", item.get("amount"), currency)
        iban = _text(item.get("ibanNumber")) or ""
        if not iban or len(iban) > 30:
            errs.add(f"{name}.ibanNumber", f"The {name}.ibanNumber field is required (at most 30 characters).")
        for kind in ("knetChargeType", "ccChargeType"):
            if item.get(kind) is not None and item.get(kind) not in _CHARGE_TYPES:
                errs.add(f"{name}.{kind}", f"The selected {name}.{kind} is invalid.")
        vendors.append({"iban": iban, "amount_fils": share or 0,
                        "charges": {k: str(item[k]) for k in ("knetCharge", "knetChargeType", "ccCharge",
                                                             "ccChargeType") if item.get(k) is not None}})
    if total is not None and sum(v["amount_fils"] for v in vendors) > total:
        errs.add("extraMerchantData", "The vendors' amounts add up to more than the order amount.")
    return vendors


@dataclass
class RefundRequest:
    """A valid create-refund body."""

    upay_order_id: str
    amount_fils: int
    currency: str
    raw: dict[str, Any]


def validate_refund(body: Any, currency_of: dict[str, str]) -> RefundRequest:
    """Check a create-refund body; ``currency_of`` maps a known order id to its payment currency."""
    if not isinstance(body, dict):
        raise Invalid({"body": ["The request body must be a JSON object."]})
    errs = _Errors()
    order_id = _text(body.get("orderId"))
    if not order_id:
        errs.add("orderId", "The order id field is required.")
    elif len(order_id) > 255:
        errs.add("orderId", "The order id may not be greater than 255 characters.")
    currency = currency_of.get(order_id or "", "KWD")
    amount = _amount(errs, "totalPrice", body.get("totalPrice"), currency)
    errs.raise_if_any()
    assert order_id and amount is not None
    return RefundRequest(order_id, amount, currency, body)
