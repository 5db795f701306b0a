"""What create-refund answers for a split payment (``isMultivendorRefund`` + ``refundPayload[]``, §12.1, §18 F4).

Kept apart from :mod:`sandbox.split` (the multivendor endpoints) so that :mod:`sandbox.api` can use it without an
import cycle.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from typing import Any

from starlette.responses import JSONResponse

from services.money import format_amount

from .core import Sandbox
from .store import Row

_DECIMAL = re.compile(r'"__decimal__(-?[0-9.]+)__"')


class DecimalJSON(JSONResponse):
    """JSON with ``Decimal`` values written as numbers (``50.000``), never through float."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, default=lambda v: f"__decimal__{v}__" if isinstance(v, Decimal) else str(v))
        return _DECIMAL.sub(r"\1", text).encode("utf-8")


def number(fils: int, currency: str) -> Decimal:
    return Decimal(format_amount(fils, currency))


def request_id(upay_order_id: str, index: int) -> str:
    """The stable ``refundRequestId`` of one vendor share (simulator-derived)."""
    return str(int(hashlib.sha256(f"{upay_order_id}:{index}".encode()).hexdigest()[:12], 16) % 10**10).zfill(10)


def refund_payload(sandbox: Sandbox, upay_order_id: str, shares: list[Row], currency: str) -> list[dict[str, Any]]:
    """``refundPayload[]``: one entry per vendor with what it was paid, has refunded and may still refund."""
    entries = []
    for index, share in enumerate(shares):
        rid = request_id(upay_order_id, index)
        done = sandbox.store.vendor_refunded(rid)
        entries.append({"refundRequestId": rid, "ibanNumber": share["iban"],
                        "totalPaid": format_amount(share["amount_fils"], currency),
                        "refundedAmount": number(done, currency),
                        "remainingLimit": number(share["amount_fils"] - done, currency),
                        "amountToRefund": 0, "merchantType": "vendor"})
    return entries


def split_answer(sandbox: Sandbox, upay_order_id: str) -> JSONResponse | None:
    """create-refund's answer for a split payment (nothing refunded), or None when the payment is not split."""
    shares = sandbox.store.split_of(upay_order_id)
    if shares is None:
        return None
    currency = sandbox.store.currency_of_upay_order(upay_order_id) or "KWD"
    data = {"orderId": upay_order_id, "isMultivendorRefund": True,
            "refundPayload": refund_payload(sandbox, upay_order_id, shares, currency)}
    return DecimalJSON({"status": True, "message": "success", "data": data}, status_code=201)
