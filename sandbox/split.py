"""Split-payment refunds (contract §11.2, §12.1, §12.4–§12.6, §18 F4).

A refund asked for on a payment charged with ``extraMerchantData`` refunds nothing: create-refund answers
``isMultivendorRefund:true`` with one ``refundPayload`` entry per vendor; the merchant fills ``amountToRefund``
and calls ``create-multivendor-refund``, which draws each amount from that vendor's balance (a vendor short of
balance lands in ``insufficientBalance``, an amount above the vendor's remaining limit in ``refundIssue``, an
entry whose ids or totals were changed in ``dataTempered``); ``delete-multivendor-refund`` cancels one
generated refund while it is initiated. The three problem lists sit beside ``responseData`` (§16 A20).
Simulator choices: only vendors are listed (the main merchant's share is not refundable here), and a refund
request id is derived from the payment and the vendor's position, so it is stable across calls.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.money import InvalidAmount, parse_amount
from services.timeutil import utcnow

from . import ids
from .config import merchant_prefix
from .http import Invalid, authorized_json, invalid, refused, sandbox_of
from .split_answer import DecimalJSON, refund_payload, request_id
from .split_answer import number as _number
from .store import Refusal, Row, iso


def _fils(value: Any, currency: str) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        return None
    try:
        return parse_amount(value if not isinstance(value, str) else value.strip(), currency, allow_zero=True)
    except InvalidAmount:
        return None


async def create_multivendor_refund(request: Request) -> JSONResponse:
    """``POST create-multivendor-refund`` (§12.4)."""
    opened = await authorized_json(request)
    if isinstance(opened, JSONResponse):
        return opened
    token, body = opened
    sandbox = sandbox_of(request)
    order_id = body.get("orderId") if isinstance(body, dict) else None
    payload = body.get("refundPayload") if isinstance(body, dict) else None
    if not isinstance(order_id, str) or not order_id or not isinstance(payload, list) or not payload:
        return invalid(Invalid({"refundPayload": ["The order id and refund payload fields are required."]}))
    sandbox.store.settle_due(utcnow())
    shares = sandbox.store.split_of(order_id)
    if shares is None:
        return refused("This order is not a multi-vendor payment.")
    currency = sandbox.store.currency_of_upay_order(order_id) or "KWD"
    known = {e["refundRequestId"]: e for e in refund_payload(sandbox, order_id, shares, currency)}
    tempered: list[Any] = []
    issues: list[Any] = []
    short: list[Any] = []
    wanted: list[tuple[dict[str, Any], int]] = []
    for entry in payload:
        ours = known.get(entry.get("refundRequestId")) if isinstance(entry, dict) else None
        fils = _fils(entry.get("amountToRefund"), currency) if isinstance(entry, dict) else None
        if (ours is None or fils is None or entry.get("ibanNumber") != ours["ibanNumber"]
                or _fils(entry.get("totalPaid"), currency) != _fils(ours["totalPaid"], currency)):
            tempered.append(entry)
        elif fils == 0:
            continue
        elif fils > (_fils(str(ours["remainingLimit"]), currency) or 0):
            issues.append(entry)
        else:
            wanted.append((ours, fils))
    now = utcnow()
    due = now + timedelta(seconds=sandbox.config.refund_delay_seconds)
    default = sandbox.config.vendor_balance_fils
    debits: dict[str, int] = {}
    rows: list[Row] = []
    generated: list[dict[str, Any]] = []
    for ours, fils in wanted:
        iban = ours["ibanNumber"]
        if sandbox.store.vendor_balance(iban, default) - debits.get(iban, 0) < fils:
            short.append({**ours, "amountToRefund": _number(fils, currency)})
            continue
        debits[iban] = debits.get(iban, 0) + fils
        refund_order, refund_id, arn = ids.refund_ids(merchant_prefix(token), now)
        invoice = ids.invoice_number()
        rows.append({"refund_order_id": refund_id, "order_id": refund_order, "upay_order_id": order_id,
                     "amount_fils": fils, "currency": currency, "arn": arn, "state": "initiated",
                     "created_at": iso(now), "due_at": iso(due),
                     "refunded_at": None, "deleted_at": None, "request": json.dumps(body, default=str),
                     "request_id": ours["refundRequestId"], "generated_invoice_id": invoice})
        generated.append({"generatedInvoiceId": invoice, "amount": _number(fils, currency), "orderId": refund_order,
                          "refundOrderId": refund_id, "refundArn": arn})
    sandbox.store.create_split_refunds(rows, debits, default)
    data = {"responseData": {"generated": generated}, "dataTempered": tempered, "refundIssue": issues,
            "insufficientBalance": short}
    return DecimalJSON({"status": True, "message": "Refund invoice generated successfully", "data": data},
                       status_code=201)


async def delete_multivendor_refund(request: Request) -> JSONResponse:
    """``POST delete-multivendor-refund`` (§12.5): ``{generatedInvoiceId, orderId, refundOrderId, refundArn}``."""
    opened = await authorized_json(request)
    if isinstance(opened, JSONResponse):
        return opened
    _token, body = opened
    sandbox = sandbox_of(request)
    fields = ("generatedInvoiceId", "orderId", "refundOrderId")
    values = {k: body.get(k) if isinstance(body, dict) else None for k in fields}
    missing = {k: [f"The {k} field is required."] for k, v in values.items() if not isinstance(v, str | int) or not v}
    if missing:
        return invalid(Invalid(missing))
    refund = sandbox.store.refund(str(values["refundOrderId"]))
    shares = sandbox.store.split_of(refund["upay_order_id"]) if refund else None
    iban = ""
    if refund is not None and shares is not None:
        index = next((i for i in range(len(shares)) if request_id(refund["upay_order_id"], i) == refund["request_id"]),
                     None)
        iban = shares[index]["iban"] if index is not None else ""
    try:
        row = sandbox.store.delete_split_refund(str(values["refundOrderId"]), str(values["orderId"]),
                                                str(values["generatedInvoiceId"]), iban,
                                                sandbox.config.vendor_balance_fils, utcnow())
    except Refusal as exc:
        return refused(str(exc))
    return JSONResponse({"status": True, "message": "Refund invoice delete successfully",
                         "data": {"order_id": row["order_id"], "refund_order_id": row["refund_order_id"]}},
                        status_code=201)


ROUTES = [
    Route("/api/v1/create-multivendor-refund", create_multivendor_refund, methods=["POST"]),
    Route("/api/v1/delete-multivendor-refund", delete_multivendor_refund, methods=["POST"]),
]

__all__ = ["ROUTES"]
