"""Simulator-only test/admin API under ``/__sandbox/`` (no auth: the sandbox listens on loopback)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .api import sandbox_of
from .core import NotFound
from .faults import Faults
from .store import Refusal
from .wire import RESULTS, normalise_src


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


async def _body(request: Request) -> Any:
    raw = await request.body()
    return json.loads(raw) if raw.strip() else {}


async def health(request: Request) -> JSONResponse:
    """Liveness."""
    return JSONResponse({"ok": True})


async def config(request: Request) -> JSONResponse:
    """GET: the run-time settings; POST: change some of them."""
    sandbox = sandbox_of(request)
    if request.method == "POST":
        try:
            changes = await _body(request)
            if not isinstance(changes, dict):
                raise ValueError("body must be a JSON object")
            sandbox.config.update(changes)
        except ValueError as exc:
            return _error(str(exc))
        if "merchant_balance_fils" in changes:
            sandbox.store.set_value("balance_fils", str(changes["merchant_balance_fils"]))
        if "vendor_balance_fils" in changes:
            sandbox.store.reset_vendor_balances()
        if "status_limit_per_minute" in changes:
            sandbox.status_limiter.reset()
    return JSONResponse({"ok": True, "config": sandbox.config.runtime_view(), "balance_fils": sandbox.store.balance()})


async def faults(request: Request) -> JSONResponse:
    """GET: current faults; POST: replace them; DELETE: clear them."""
    state = sandbox_of(request).faults
    if request.method == "POST":
        try:
            state.set(Faults.parse(await _body(request)))
        except (ValueError, TypeError) as exc:
            return _error(str(exc))
    elif request.method == "DELETE":
        state.clear()
    return JSONResponse({"ok": True, "faults": state.view()})


async def complete(request: Request) -> JSONResponse:
    """Do what the hosted page does for ``{session_id | invoice_id, method, outcome, wait_webhook}``."""
    sandbox = sandbox_of(request)
    try:
        body = await _body(request)
    except ValueError:
        return _error("body must be JSON")
    if not isinstance(body, dict):
        return _error("body must be a JSON object")
    session_id, invoice_id = body.get("session_id"), body.get("invoice_id")
    if session_id:
        payment = sandbox.store.payment(str(session_id))
    else:
        payment = sandbox.store.payment_by_invoice(str(invoice_id)) if invoice_id else None
    if payment is None:
        return _error("unknown or missing session_id / invoice_id", 404)
    default = payment["src"] if payment["src"] not in (None, "create-invoice") else "knet"
    src = normalise_src(str(body.get("method") or default))
    result = RESULTS.get(str(body.get("outcome", "captured")).lower())
    if src is None or result is None:
        return _error("method must be a src word (knet, cc, amex, apple-pay …) and outcome captured, declined "
                      "or cancelled")
    try:
        done = sandbox.complete(payment["session_id"], src, result)
    except NotFound as exc:
        return _error(str(exc), 404)
    except Refusal as exc:
        return _error(str(exc), 409)
    webhook: dict[str, Any] | None = None
    if body.get("wait_webhook") and done.webhook is not None:
        delivered = await asyncio.wrap_future(done.webhook)
        attempt = sandbox.store.attempt(done.attempt["track_id"]) or {}
        webhook = {"delivered": delivered, "attempts": attempt.get("notify_attempts"),
                   "response": json.loads(attempt.get("notify_response") or "null")}
    a = done.attempt
    return JSONResponse({
        "ok": True, "track_id": a["track_id"], "redirect_url": done.redirect_url, "order_id": a["upay_order_id"],
        "merchant_order_id": done.payment["merchant_order_id"], "session_id": done.payment["session_id"],
        "payment_id": a["payment_id"], "result": a["result"], "payment_type": a["payment_type"],
        "payment_method": a["src"], "webhook": webhook,
    })


async def settle_refunds(request: Request) -> JSONResponse:
    """Every initiated refund becomes refunded now."""
    return JSONResponse({"ok": True, "settled": sandbox_of(request).settle_refunds()})


async def payment_record(request: Request) -> JSONResponse:
    """The internal record of the latest charge with a merchant order id."""
    try:
        record = sandbox_of(request).internal_record(request.path_params["merchant_order_id"])
    except NotFound as exc:
        return _error(str(exc), 404)
    return JSONResponse({"ok": True, **record})


async def status_calls(request: Request) -> JSONResponse:
    """Every get-payment-status call so far, in arrival order: ``{"id", "answer"}`` (the HTTP status sent)."""
    return JSONResponse({"ok": True, "calls": list(sandbox_of(request).status_calls)})


ROUTES = [
    Route("/__sandbox/health", health, methods=["GET"]),
    Route("/__sandbox/config", config, methods=["GET", "POST"]),
    Route("/__sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
    Route("/__sandbox/complete", complete, methods=["POST"]),
    Route("/__sandbox/refunds/settle", settle_refunds, methods=["POST"]),
    Route("/__sandbox/status-calls", status_calls, methods=["GET"]),
    Route("/__sandbox/payments/{merchant_order_id:path}", payment_record, methods=["GET"]),
]
