"""Split-payment ("multi-vendor") refunds: the typed answers and calls of contract §12.1, §12.4, §12.5 (§18 F4).

A refund of a payment charged with ``extraMerchantData`` refunds nothing: create-refund answers
``isMultivendorRefund`` (the prose spells it ``isMultiVendorRefund``; both are accepted) with ``refundPayload[]``,
one entry per vendor. :meth:`RefundsResource.create` returns that as :class:`SplitRefundNeeded` — neither a
success nor an error. The merchant sets each entry's amount within its ``remainingLimit`` and calls
``create-multivendor-refund``; problems come back per entry in ``dataTempered``, ``refundIssue`` and
``insufficientBalance``, beside ``responseData`` in the OpenAPI example and inside it in the SDKs (§16 A20): both
are read.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from services.money import parse_gateway_amount

from .models import OptStr, _alias, _opt_str, _Wire

#: The two spellings of the split flag (§18 F4).
SPLIT_FLAGS = ("isMultivendorRefund", "isMultiVendorRefund")
#: The per-entry problem lists of create-multivendor-refund.
PROBLEM_LISTS = ("dataTempered", "refundIssue", "insufficientBalance")
#: A gateway id that may arrive as a number (``refundRequestId: 1187``, ``generatedInvoiceId: 5948883``).
Id = Annotated[str, BeforeValidator(lambda v: _opt_str(v) or "")]


def is_split_answer(data: dict[str, Any]) -> bool:
    """Whether a create-refund ``data`` is the split-payment answer (either spelling, any truthy form)."""
    return any(str(data.get(flag, "")).strip().lower() in {"true", "1", "yes"} for flag in SPLIT_FLAGS)


class SplitRefundEntry(_Wire):
    """One vendor's share of a split payment (``refundPayload[]``); amounts in minor units of the payment."""

    refund_request_id: Id = Field(validation_alias=_alias("refund_request_id", "refundRequestId"))
    """The gateway's id of this vendor share; sent back unchanged."""
    iban: OptStr = Field(None, validation_alias=_alias("iban", "ibanNumber"))
    """The vendor's IBAN."""
    total_paid_fils: int = 0
    """What the vendor was paid from this payment."""
    refunded_fils: int = 0
    """What was refunded from the vendor's share so far."""
    remaining_fils: int = 0
    """The most that may still be refunded from this vendor (``remainingLimit``)."""
    merchant_type: OptStr = Field(None, validation_alias=_alias("merchant_type", "merchantType"))
    """``vendor`` (or the main merchant)."""
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)
    """The entry as received: sent back with ``amountToRefund`` set."""

    @classmethod
    def parse(cls, data: dict[str, Any], currency: str) -> SplitRefundEntry:
        """An entry from the wire, amounts converted in ``currency``."""
        return cls.model_validate({
            **data, "raw": dict(data),
            "total_paid_fils": parse_gateway_amount(data.get("totalPaid"), currency) or 0,
            "refunded_fils": parse_gateway_amount(data.get("refundedAmount"), currency) or 0,
            "remaining_fils": parse_gateway_amount(data.get("remainingLimit"), currency) or 0,
        })


class SplitRefundNeeded(_Wire):
    """create-refund's answer for a split payment: nothing was refunded; per-vendor amounts are needed."""

    order_id: OptStr = Field(None, validation_alias=_alias("order_id", "orderId"))
    """The order id to pass to create-multivendor-refund."""
    entries: list[SplitRefundEntry] = Field(default_factory=list)
    """One per vendor."""
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)
    """``data`` as received."""


class SplitRefundGenerated(_Wire):
    """One per-vendor refund create-multivendor-refund made (``responseData.generated[]``)."""

    generated_invoice_id: Id = Field(validation_alias=_alias("generated_invoice_id", "generatedInvoiceId"))
    """Needed to delete it."""
    amount_fils: int | None = None
    """Its amount, minor units."""
    order_id: OptStr = Field(None, validation_alias=_alias("order_id", "orderId"))
    """The refund's own order id (ends with its refund id, §18 F3)."""
    refund_order_id: OptStr = Field(None, validation_alias=_alias("refund_order_id", "refundOrderId"))
    """The refund id."""
    refund_arn: OptStr = Field(None, validation_alias=_alias("refund_arn", "refundArn"))
    """Acquirer reference."""


class SplitRefundResult(_Wire):
    """What create-multivendor-refund made, and the entries it refused, by reason."""

    generated: list[SplitRefundGenerated] = Field(default_factory=list)
    """Refunds made (one per vendor with an amount)."""
    tempered: list[dict[str, Any]] = Field(default_factory=list)
    """Entries whose ids or totals did not match the gateway's (``dataTempered``)."""
    issues: list[dict[str, Any]] = Field(default_factory=list)
    """Entries refused, e.g. above the vendor's remaining limit (``refundIssue``)."""
    insufficient: list[dict[str, Any]] = Field(default_factory=list)
    """Entries refused for lack of the vendor's balance (``insufficientBalance``)."""
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)
    """``data`` as received."""

    @classmethod
    def parse(cls, data: dict[str, Any], currency: str) -> SplitRefundResult:
        """Read both nestings of the problem lists (§16 A20)."""
        inner = data.get("responseData") if isinstance(data.get("responseData"), dict) else {}
        assert isinstance(inner, dict)

        def listed(key: str) -> list[Any]:
            value = data.get(key, inner.get(key))
            return value if isinstance(value, list) else []

        generated = [SplitRefundGenerated.model_validate(
            {**g, "amount_fils": parse_gateway_amount(g.get("amount"), currency)})
            for g in listed("generated") if isinstance(g, dict)]
        return cls(generated=generated, tempered=listed("dataTempered"), issues=listed("refundIssue"),
                   insufficient=listed("insufficientBalance"), raw=data)
