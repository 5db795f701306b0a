"""The gateway API under ``/api/v1/`` with the contract's paths, envelopes and error shapes (§1.4, §1.5)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.money import format_amount

from .config import is_white_label
from .core import NotFound
from .http import (
    authorized_json,
    bearer,
    invalid,
    json_body,
    not_found,
    ok,
    refused,
    sandbox_of,
    unauthorized,
)
from .split_answer import split_answer  # a split payment refunds nothing at create-refund (§12.1, §18 F4)
from .store import Refusal, Row
from .validation import Invalid, validate_charge, validate_refund
from .wire import gateway_time


async def charge(request: Request) -> JSONResponse:
    """``POST charge``: hosted page, white-label method or invoice link."""
    opened = await authorized_json(request)
    if isinstance(opened, JSONResponse):
        return opened
    token, body = opened
    try:
        req = validate_charge(body, white_label=is_white_label(token))
    except Invalid as exc:
        return invalid(exc)
    data = sandbox_of(request).create_charge(req, token)
    from .cards import charge_tokens  # F9: tokens / isSaveCard (sandbox/cards.py)

    honoured = charge_tokens(request, body, data)
    if isinstance(honoured, JSONResponse):
        return honoured
    data = honoured
    message = "Invoice created successfully" if "url" in data else "Payment link generated successfully"
    return ok(data, message)


def _status_limited(request: Request, token: str) -> JSONResponse | None:
    wait = sandbox_of(request).status_limiter.acquire(token)
    if wait is None:
        return None
    return JSONResponse({"message": "Too Many Attempts."}, status_code=429, headers={"Retry-After": str(wait)})


async def payment_status(request: Request) -> JSONResponse:
    """``GET get-payment-status/{track_id}`` and ``?session_id=`` / ``?invoice_id=`` (§6.1)."""
    token = bearer(request)
    if token is None:
        return unauthorized()
    track_id = request.path_params.get("track_id")
    session_id = request.query_params.get("session_id")
    invoice_id = request.query_params.get("invoice_id")
    answer = _status_answer(request, token, track_id, session_id, invoice_id)
    sandbox_of(request).status_calls.append({"id": track_id or session_id or invoice_id or "",
                                             "answer": answer.status_code})
    return answer


def _status_answer(request: Request, token: str, track_id: str | None, session_id: str | None,
                   invoice_id: str | None) -> JSONResponse:
    limited = _status_limited(request, token)
    if limited is not None:
        return limited
    if not (track_id or session_id or invoice_id):
        return invalid(Invalid({"track_id": ["A track id, session_id or invoice_id is required."]}))
    try:
        tx = sandbox_of(request).status(track_id=track_id, session_id=session_id, invoice_id=invoice_id)
    except NotFound as exc:
        return not_found(str(exc))
    return ok({"transaction": tx})


async def create_refund(request: Request) -> JSONResponse:
    """``POST create-refund`` (§12.1): camelCase answer (§16 A4)."""
    opened = await authorized_json(request)
    if isinstance(opened, JSONResponse):
        return opened
    token, body = opened
    sandbox = sandbox_of(request)
    order_id = body.get("orderId") if isinstance(body, dict) else None
    currency = {}
    if isinstance(order_id, str) and (known := sandbox.store.currency_of_upay_order(order_id)) is not None:
        currency[order_id] = known
    try:
        req = validate_refund(body, currency)
    except Invalid as exc:
        return invalid(exc)

    split = split_answer(sandbox, req.upay_order_id)
    if split is not None:
        return split
    try:
        row = sandbox.create_refund(req, token)
    except Refusal as exc:  # §16 A5: unknown ids are refused, never guessed
        return refused(str(exc))
    return ok({"orderId": row["order_id"], "refundOrderId": row["refund_order_id"], "refundArn": row["arn"]},
              "Refund invoice generated successfully")


async def delete_refund(request: Request) -> JSONResponse:
    """``delete-refund``: POST JSON or GET query with ``orderId``/``refundOrderId`` (§16 A2)."""
    if bearer(request) is None:
        return unauthorized()
    params: dict[str, Any]
    if request.method == "GET":
        params = dict(request.query_params)
    else:
        body, refusal = await json_body(request)
        if refusal is not None:
            return refusal
        if not isinstance(body, dict):
            return invalid(Invalid({"body": ["The request body must be a JSON object."]}))
        params = body
    order_id = params.get("orderId") or params.get("order_id")
    refund_order_id = params.get("refundOrderId") or params.get("refund_order_id") or params.get("refund_id")
    missing = {name: [f"The {label} field is required."] for name, label, value in
               (("orderId", "order id", order_id), ("refundOrderId", "refund order id", refund_order_id))
               if not isinstance(value, str) or not value}
    if missing:
        return invalid(Invalid(missing))
    try:
        row = sandbox_of(request).delete_refund(str(order_id), str(refund_order_id))
    except Refusal as exc:
        return refused(str(exc))
    return ok({"order_id": row["order_id"], "refund_order_id": row["refund_order_id"]},
              "Refund Invoice is delete successfully")


def _refund_item(row: Row, *, details: bool = False) -> dict[str, Any]:
    """§18 F2: exactly ``{order_id, is_refunded, refunded_date}``; id and amount only with ``refund_details``."""
    item = {"order_id": row["order_id"], "is_refunded": row["state"] == "refunded",
            "refunded_date": gateway_time(row["refunded_at"])}
    if details:
        item |= {"refund_order_id": row["refund_order_id"],
                 "amount": format_amount(row["amount_fils"], row["currency"])}
    return item


def _refunds_or_error(request: Request) -> list[Row] | JSONResponse:
    """The refunds raised on the path's payment, or the error answer (no token, unknown payment)."""
    if bearer(request) is None:
        return unauthorized()
    try:
        return sandbox_of(request).refunds_of(request.path_params["order_id"])
    except NotFound as exc:
        return not_found(str(exc))


async def check_refund(request: Request) -> JSONResponse:
    """``GET check-refund/{order_id}``: one element per refund raised on the payment (§12.3)."""
    rows = _refunds_or_error(request)
    if isinstance(rows, JSONResponse):
        return rows
    details = sandbox_of(request).config.convenient("refund_details")
    return ok({"refund": [_refund_item(r, details=details) for r in rows]})


async def check_refund_status(request: Request) -> JSONResponse:
    """Older ``GET check-refund-status/{order_id}`` → ``data.transaction{is_refunded, is_refunded_date}``."""
    rows = _refunds_or_error(request)
    if isinstance(rows, JSONResponse):
        return rows
    last = rows[-1] if rows else None
    return ok({"transaction": {"is_refunded": bool(last and last["state"] == "refunded"),
                               "is_refunded_date": gateway_time(last["refunded_at"]) if last else None}})


async def button_status(request: Request) -> JSONResponse:
    """``GET check-payment-button-status``: every method enabled (§13)."""
    token = bearer(request)
    if token is None:
        return unauthorized()
    buttons = dict.fromkeys(("knet", "credit_card", "samsung_pay", "apple_pay", "google_pay", "amex",
                             "apple_pay_knet"), True)
    return ok({"payButtons": buttons, "isWhiteLabel": is_white_label(token)})


async def check_api_key(request: Request) -> JSONResponse:
    """``POST check-merchant-api-key`` (no bearer): is the key valid, is it white-label."""
    body, refusal = await json_body(request)
    if refusal is not None:
        return refusal
    key = body.get("apiKey") if isinstance(body, dict) else None
    if not isinstance(key, str) or not key:
        return invalid(Invalid({"apiKey": ["The api key field is required."]}))
    if key not in sandbox_of(request).config.tokens():
        return refused("Invalid API key.")
    return ok({"isWhiteLabel": is_white_label(key)}, "API key is valid")


async def deposit_status(request: Request) -> JSONResponse:
    """``GET get-deposit-status/{track_id}`` (§13)."""
    if bearer(request) is None:
        return unauthorized()
    try:
        tx = sandbox_of(request).deposit(request.path_params["track_id"])
    except NotFound as exc:
        return not_found(str(exc))
    return ok({"transaction": tx})


ROUTES = [
    Route("/api/v1/charge", charge, methods=["POST"]),
    Route("/api/v1/get-payment-status", payment_status, methods=["GET"]),
    Route("/api/v1/get-payment-status/{track_id}", payment_status, methods=["GET"]),
    Route("/api/v1/create-refund", create_refund, methods=["POST"]),
    Route("/api/v1/delete-refund", delete_refund, methods=["GET", "POST"]),
    Route("/api/v1/check-refund/{order_id}", check_refund, methods=["GET"]),
    Route("/api/v1/check-refund-status/{order_id}", check_refund_status, methods=["GET"]),
    Route("/api/v1/check-payment-button-status", button_status, methods=["GET"]),
    Route("/api/v1/check-merchant-api-key", check_api_key, methods=["POST"]),
    Route("/api/v1/get-deposit-status/{track_id}", deposit_status, methods=["GET"]),
]
