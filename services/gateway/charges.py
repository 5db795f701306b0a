"""``POST charge``: payment pages, white-label methods and invoices / payment links (contract §4, §5)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from services.money import exponent, parse_amount, to_decimal

from . import errors
from .models import ChargeResult, Customer, Product
from .resource import Resource

#: ``paymentGateway.src`` values the contract lists (§4.1); plugins also send ``amex``.
SOURCES = frozenset(
    {"knet", "cc", "samsung-pay", "apple-pay", "apple-pay-knet", "google-pay", "amex", "create-invoice"}
)
NOTIFICATION_TYPES = frozenset({"email", "sms", "link", "all"})


class ChargesResource(Resource):
    """``client.charges``."""

    def create(
        self,
        *,
        order_id: str,
        amount_fils: int,
        currency: str = "KWD",
        description: str,
        language: str = "en",
        return_url: str,
        cancel_url: str,
        notification_url: str,
        src: str | None = None,
        notification_type: str | None = None,
        customer: Customer | None = None,
        products: list[Product] | None = None,
        reference_id: str | None = None,
        expiry_minutes: int | None = None,
        customer_extra_data: str | None = None,
        customer_unique_token: str | None = None,
        save_card: bool = False,
    ) -> ChargeResult:
        """Create a payment (or, with ``src="create-invoice"``, an invoice link). Never retried: see is_uncertain.

        ``src`` None/"" gives the hosted page with every enabled method. Amounts are integer minor units.
        """
        body = build_charge_body(
            order_id=order_id,
            amount_fils=amount_fils,
            currency=currency,
            description=description,
            language=language,
            return_url=return_url,
            cancel_url=cancel_url,
            notification_url=notification_url,
            src=src,
            notification_type=notification_type,
            customer=customer,
            products=products,
            reference_id=reference_id,
            expiry_minutes=expiry_minutes,
            customer_extra_data=customer_extra_data,
        )
        if customer_unique_token:
            # §18/F9: the hosted page offers the customer's saved cards (and to save a new one with isSaveCard).
            body["tokens"] = {"customerUniqueToken": int(customer_unique_token)}
            body["isSaveCard"] = bool(save_card)
        where = {"order_id": order_id}
        envelope = self._client._request("POST", "charge", body=body, ids=where)
        data = envelope.get("data")
        if not isinstance(data, dict):
            raise errors.InvalidResponse("Charge answer has no data object", method="POST", path="charge", ids=where)
        return parse_charge_data(data, where)


def parse_charge_data(data: dict[str, Any], where: dict[str, str]) -> ChargeResult:
    """``data`` of a charge answer → ChargeResult (hosted link, invoice, or saved-card ``transactionData``)."""
    tx_data = data.get("transactionData")
    tx: dict[str, Any] = tx_data if isinstance(tx_data, dict) else {}
    # create-invoice answers carry ``link`` as a boolean ("a link was provided") and the URL in ``url`` (§4.2).
    link = next(
        (v for v in (data.get("link"), data.get("url"), tx.get("redirect_url")) if isinstance(v, str) and v),
        None,
    )
    if link is None:
        raise errors.InvalidResponse("Charge answer has no payment link", method="POST", path="charge", ids=where)
    try:
        return ChargeResult(
            link=link,
            track_id=data.get("trackId") or data.get("track_id") or tx.get("track_id"),
            session_id=data.get("session_id") or data.get("sessionId"),
            invoice_id=data.get("invoice_id") or data.get("invoiceId"),
            sms_sent=data.get("sms") if "sms" in data else None,
            email_sent=data.get("email") if "email" in data else None,
            raw=data,
        )
    except ValidationError as exc:
        raise errors.InvalidResponse(
            f"Charge answer has an unexpected shape: {exc.errors()[0]['msg']}", method="POST", path="charge",
            ids=where,
        ) from None


def build_charge_body(
    *,
    order_id: str,
    amount_fils: int,
    currency: str,
    description: str,
    language: str,
    return_url: str,
    cancel_url: str,
    notification_url: str,
    src: str | None,
    notification_type: str | None,
    customer: Customer | None,
    products: list[Product] | None,
    reference_id: str | None,
    expiry_minutes: int | None,
    customer_extra_data: str | None,
) -> dict[str, Any]:
    """The ``POST charge`` JSON body; refuses locally what the gateway would refuse (ValueError)."""
    currency, amount = wire_amount(amount_fils, currency)
    if not order_id or len(order_id) > 50:
        raise ValueError("order_id must be 1–50 characters (contract §16 A12).")
    if language not in ("en", "ar"):
        raise ValueError("language must be 'en' or 'ar'.")
    if src and src not in SOURCES:
        raise ValueError(f"src must be one of {sorted(SOURCES)}.")
    if src == "create-invoice" and notification_type not in NOTIFICATION_TYPES:
        raise ValueError("create-invoice needs notification_type email, sms, link or all.")
    if notification_type is not None and notification_type not in NOTIFICATION_TYPES:
        raise ValueError("notification_type must be email, sms, link or all.")
    if expiry_minutes is not None and not 1 <= expiry_minutes <= 1440:
        raise ValueError("expiry_minutes must be between 1 and 1440 (the gateway's 24 h ceiling).")

    order: dict[str, Any] = {
        "id": order_id,
        "description": description,
        "currency": currency,
        "amount": amount,
    }
    if reference_id:
        order["reference"] = reference_id
    body: dict[str, Any] = {"order": order, "language": language, "tokens": {}}
    if src:
        body["paymentGateway"] = {"src": src}
    if notification_type:
        body["notificationType"] = notification_type
    if reference_id:
        body["reference"] = {"id": reference_id}
    if customer is not None:
        wire = {
            "uniqueId": customer.unique_id,
            "name": customer.name,
            "email": customer.email,
            "mobile": customer.mobile,
        }
        body["customer"] = {k: v for k, v in wire.items() if v}
    if products:
        body["products"] = [_product(p, currency) for p in products]
    body["returnUrl"] = return_url
    body["cancelUrl"] = cancel_url
    body["notificationUrl"] = notification_url
    if customer_extra_data:
        body["customerExtraData"] = customer_extra_data
    if expiry_minutes is not None:
        body["paymentLinkExpiryInMinutes"] = expiry_minutes
    return body


def _product(p: Product, currency: str) -> dict[str, Any]:
    item: dict[str, Any] = {"name": p.name, "price": to_decimal(p.price_fils, currency), "quantity": p.quantity}
    if p.description:
        item["description"] = p.description
    return item


def wire_amount(amount_fils: int, currency: str) -> tuple[str, Decimal]:
    """Checked ``amount_fils`` in ``currency`` → (upper-case currency, exact wire Decimal); ValueError/TypeError.

    Unsupported currencies are refused before anything is sent; ``parse_amount`` enforces the per-payment ceiling.
    """
    currency = currency.upper()
    exponent(currency)
    _require_minor_units(amount_fils, "amount_fils")
    amount = to_decimal(amount_fils, currency)
    parse_amount(amount, currency)
    return currency, amount


def _require_minor_units(value: object, name: str) -> None:
    """Amounts are positive ``int`` minor units; floats, bools and Decimals are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int number of minor units (fils), got {type(value).__name__}.")
    if value <= 0:
        raise ValueError(f"{name} must be greater than zero.")
