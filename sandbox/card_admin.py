"""Test-only doors of the sandbox's saved cards (``/__sandbox/…``, never part of the gateway API): the auto-deduct
calls received, and saving a test card without the hosted page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from .card_api import _digits, vault_of
from .card_vault import TEST_CARDS


async def admin_auto_deducts(request: Request) -> JSONResponse:
    """``GET /__sandbox/auto-deducts[?order_id=]``: every auto-deduct call received (tests count them here)."""
    return JSONResponse({"calls": vault_of(request).auto_deducts(request.query_params.get("order_id"))})


async def admin_save(request: Request) -> JSONResponse:
    """``POST /__sandbox/cards {customer_token, number}``: register the token and save a test card (demo/tests)."""
    body = await request.json()
    vault = vault_of(request)
    token = _digits(body.get("customer_token"))
    if token is None or body.get("number") not in TEST_CARDS:
        return JSONResponse({"ok": False, "error": "customer_token (8–18 digits) and a test card number"}, 400)
    vault.register(token)
    card = vault.save(token, body["number"])
    return JSONResponse({"ok": True, "card": {k: card[k] for k in ("token", "brand", "number", "scheme")}})
