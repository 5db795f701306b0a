"""Typed request and response models of the UPayments API. Money in integer minor units, times in UTC.

Response models accept the wire names and the §16 alternates (camelCase/snake_case, ``whitelabel``/
``whitelabled`` …) and keep the untouched payload in ``raw``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from services.money import EXPONENTS, parse_gateway_amount
from services.timeutil import as_utc, parse_gateway_time

from .vocab import method_from, normalise_result

log = logging.getLogger(__name__)


def _opt_str(value: Any) -> str | None:
    """Ids may arrive as numbers (OAS types track_id as integer, §16 A7); blanks mean absent."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    raise ValueError(f"expected text, got {type(value).__name__}")


def _flag(value: Any) -> bool | None:
    """Booleans arrive as true/false, 1/0, "Yes"/"No", "true"/"false"."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        word = value.strip().lower()
        if word in {"yes", "true", "1", "y"}:
            return True
        if word in {"no", "false", "0", "n"}:
            return False
    raise ValueError(f"expected a yes/no value, got {value!r}")


def _gateway_time(value: Any) -> datetime | None:
    """``YYYY-MM-DD HH:MM:SS`` in Kuwait time → UTC; datetimes are taken as they are."""
    if isinstance(value, datetime):
        return as_utc(value)
    if value is None or isinstance(value, str):
        return parse_gateway_time(value)
    raise ValueError(f"expected a gateway timestamp, got {type(value).__name__}")


OptStr = Annotated[str | None, BeforeValidator(_opt_str)]
Flag = Annotated[bool | None, BeforeValidator(_flag)]
YesNo = Annotated[bool, BeforeValidator(lambda v: bool(_flag(v)))]
GatewayTime = Annotated[datetime | None, BeforeValidator(_gateway_time)]


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")


# ---------------------------------------------------------------- request parts


class Customer(_Wire):
    """The payer as sent in ``customer`` (needed for invoices sent by e-mail/SMS)."""

    name: str | None = None
    """Payer's name."""
    email: str | None = None
    """E-mail; required for ``notification_type`` email/all."""
    mobile: str | None = None
    """Mobile in E.164 (``+96550000000``); required for sms/all."""
    unique_id: str | None = None
    """Merchant's own customer id (wire ``uniqueId``)."""


class Product(_Wire):
    """One line item shown on the hosted page / invoice."""

    name: str
    """Item name (max 255)."""
    description: str | None = None
    """Item description (max 255)."""
    price_fils: int = Field(ge=0)
    """Unit price in minor units of the charge currency (fils for KWD)."""
    quantity: int = Field(ge=1)
    """Number of units."""


# ---------------------------------------------------------------- responses


class ChargeResult(_Wire):
    """What ``POST charge`` returned: where to send the payer, and the ids known so far."""

    link: str
    """Payment page or invoice URL (``data.link``, or ``data.url`` for invoices)."""
    track_id: OptStr = None
    """Track id; only for white-label charges (non-white-label: learnt from the redirect, §4.2)."""
    session_id: OptStr = None
    """Checkout session id, usable for a status look-up."""
    invoice_id: OptStr = None
    """Invoice code (create-invoice), usable for a status look-up."""
    sms_sent: Flag = None
    """create-invoice: whether the link was sent by SMS (never in sandbox)."""
    email_sent: Flag = None
    """create-invoice: whether the link was sent by e-mail (never in sandbox)."""
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)
    """The response's ``data`` object as received."""


class Transaction(_Wire):
    """One payment as ``get-payment-status`` reports it (``data.transaction``, contract §6.2)."""

    upay_order_id: OptStr = Field(None, validation_alias=_alias("upay_order_id", "order_id"))
    """UPayments order id (status ``order_id``, §16 A16); the id create-refund needs."""
    refund_order_id: OptStr = None
    """Same value as ``upay_order_id`` in practice."""
    merchant_order_id: OptStr = Field(
        None,
        validation_alias=_alias("merchant_order_id", "merchant_requested_order_id", "requested_order_id"),
    )
    """Our ``order.id`` echoed back."""
    track_id: OptStr = None
    """Per-attempt id from UPayments (opaque text)."""
    payment_id: OptStr = None
    """Acquirer's payment id (KNET PaymentID / card gateway id)."""
    result: OptStr = None
    """Normalised result word: CAPTURED, NOT CAPTURED, CANCELED, …; None while unknown."""
    payment_type: OptStr = None
    """Gateway's payment type as sent (``knet``, ``cc``, ``card``)."""
    method: OptStr = None
    """Our method value (knet, card, amex, apple_pay, apple_pay_knet, google_pay, samsung_pay) or None."""
    amount_fils: int | None = None
    """``total_price`` in minor units of ``currency`` (fils for KWD); None if absent or currency unknown."""
    currency: OptStr = Field(None, validation_alias=_alias("currency", "currency_type"))
    """ISO-4217 code (``currency_type``)."""
    transaction_at: GatewayTime = Field(None, validation_alias=_alias("transaction_at", "transaction_date"))
    """When the payment happened, UTC (gateway sends Kuwait local time)."""
    session_id: OptStr = None
    """Checkout session id."""
    reference: OptStr = None
    """Our ``reference.id`` echoed back."""
    invoice_id: OptStr = None
    """Invoice number/code, when the payment came from an invoice."""
    status: OptStr = None
    """Gateway processing status, e.g. ``done`` or ``expired`` (not the payment result)."""
    notify_url_called: Flag = None
    """Whether the gateway delivered the webhook."""
    whitelabel: Flag = Field(None, validation_alias=_alias("whitelabel", "whitelabled"))
    """White-label payment (§16 A6: both spellings)."""
    customer_unique_id: OptStr = Field(None, validation_alias=_alias("customer_unique_id", "customer_unq_id"))
    """Merchant's customer id (§16 A6: both spellings)."""
    customer_extra_data: OptStr = None
    """Echo of ``customerExtraData``."""
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)
    """``data.transaction`` as received."""

    @model_validator(mode="before")
    @classmethod
    def _derive(cls, data: Any) -> Any:
        """Fill the derived fields (result spelling, method, amount in minor units) from the wire payload."""
        if not isinstance(data, dict) or "raw" in data:
            return data
        out = dict(data)
        out["raw"] = dict(data)
        out["result"] = normalise_result(_opt_str(data.get("result")))
        out["method"] = method_from(_opt_str(data.get("payment_method")), _opt_str(data.get("payment_type")))
        currency = (_opt_str(data.get("currency_type") or data.get("currency")) or "KWD").upper()
        amount = data.get("total_price", data.get("amount"))
        if currency in EXPONENTS:
            out["amount_fils"] = parse_gateway_amount(amount, currency)
        else:
            log.warning("status amount %r in unsupported currency %s left unparsed", amount, currency)
            out["amount_fils"] = None
        return out


class RefundCreated(_Wire):
    """What ``POST create-refund`` returned (§16 A4: camelCase in the docs, snake_case in the OAS)."""

    order_id: OptStr = Field(None, validation_alias=_alias("order_id", "orderId"))
    """The refund's own order id (pass it to delete-refund)."""
    refund_order_id: str = Field(validation_alias=_alias("refund_order_id", "refundOrderId"))
    """Refund id (32 alphanumerics)."""
    refund_arn: OptStr = Field(None, validation_alias=_alias("refund_arn", "refundArn"))
    """Acquirer reference number of the refund."""
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)
    """``data`` as received."""


class RefundStatusItem(_Wire):
    """One refund raised on a payment (``check-refund`` ``data.refund[]``)."""

    order_id: OptStr = Field(None, validation_alias=_alias("order_id", "orderId"))
    """The refund's order id."""
    refund_order_id: OptStr = Field(None, validation_alias=_alias("refund_order_id", "refundOrderId"))
    """Refund id, when the gateway lists it."""
    is_refunded: YesNo = Field(validation_alias=_alias("is_refunded", "isRefunded"))
    """True once the money went back to the payer; before that the refund can still be deleted."""
    refunded_at: GatewayTime = Field(
        None, validation_alias=_alias("refunded_at", "refunded_date", "is_refunded_date")
    )
    """When it was refunded, UTC."""


class LegacyRefundStatus(_Wire):
    """``check-refund-status`` ``data.transaction`` (older spec, §16 A3)."""

    is_refunded: YesNo
    """True once refunded."""
    refunded_at: GatewayTime = Field(None, validation_alias=_alias("refunded_at", "is_refunded_date"))
    """When it was refunded, UTC."""


class PayButtons(_Wire):
    """Which payment methods the merchant account has enabled (``check-payment-button-status``)."""

    knet: bool = False
    """KNET debit cards."""
    credit_card: bool = False
    """Visa/Mastercard."""
    samsung_pay: bool = False
    """Samsung Pay."""
    apple_pay: bool = False
    """Apple Pay (cards)."""
    google_pay: bool = False
    """Google Pay."""
    amex: bool = False
    """American Express."""
    apple_pay_knet: bool = False
    """Apple Pay with KNET cards."""
    is_white_label: bool = Field(False, validation_alias=_alias("is_white_label", "isWhiteLabel"))
    """White-label merchant: the charge must name a method (``src``)."""

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        """Accept ``data`` itself (``payButtons`` object beside ``isWhiteLabel``)."""
        if isinstance(data, dict) and isinstance(data.get("payButtons"), dict):
            out = {k: bool(_flag(v)) for k, v in data["payButtons"].items()}
            out["is_white_label"] = bool(_flag(data.get("isWhiteLabel", data.get("is_white_label"))))
            return out
        return data


def _deposited(value: Any) -> bool:
    """§18 F11: the only documented value is ``"Yes"``; anything else (``"No"``, null, junk) means not yet."""
    return isinstance(value, str) and value.strip() == "Yes"


class DepositStatus(_Wire):
    """Settlement of one payment to the merchant's bank (``get-deposit-status`` ``data.transaction``).

    No amounts or fees come back (§18 F11): the amount of a deposit is our own captured minus refunded.
    """

    deposited: Annotated[bool, BeforeValidator(_deposited)] = False
    """True only for the wire word ``"Yes"``."""
    deposited_at: GatewayTime = Field(None, validation_alias=_alias("deposited_at", "deposited_date"))
    """When it was deposited, UTC."""
    invoice_url: OptStr = None
    """Deposit invoice page."""


class RedirectParams(_Wire):
    """What the gateway appended to the return/cancel URL or posted to the webhook (contract §9.2, §10).

    Informational only: confirm with ``payments.status`` before trusting it (§16 A24).
    """

    merchant_order_id: OptStr = None
    """Our ``order.id`` (redirect ``order_id`` / ``requested_order_id`` — §16 A16: not the UPayments id)."""
    upay_order_id: OptStr = None
    """UPayments order id (``refund_order_id`` / ``receipt_id`` / ``upay_order_id``)."""
    track_id: OptStr = None
    """Per-attempt id from UPayments."""
    payment_id: OptStr = None
    """Acquirer payment id."""
    result: OptStr = None
    """Normalised result word (CAPTURED, NOT CAPTURED, CANCELED …)."""
    payment_type: OptStr = None
    """As sent: knet, cc, card."""
    method: OptStr = None
    """Our method value or None."""
    invoice_id: OptStr = None
    """Invoice number."""
    transaction_at: GatewayTime = None
    """``transaction_date`` as UTC."""
    tran_id: OptStr = None
    """KNET transaction id."""
    ref: OptStr = None
    """Bank RRN."""
    auth: OptStr = None
    """Authorisation code."""
    post_date: OptStr = None
    """KNET posting date, ``MMDD``."""
    trn_udf: OptStr = None
    """User-defined field."""
    merchant_params: dict[str, str] = Field(default_factory=dict)
    """The merchant's own query parameters (the ``?payment_id`` quirk repaired)."""
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)
    """Every parameter as received (after the quirk repair)."""
