"""Charges that carry saved-card fields (contract §18 F9): ``tokens.customerUniqueToken`` and ``isSaveCard`` (the
hosted page offers and saves cards), and ``tokens.creditCard`` (the saved card is charged at once)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from services.money import format_amount

from .card_api import _digits, _invalid, _token_invalid, vault_of


def charge_tokens(request: Request, body: Any, data: dict[str, Any]) -> dict[str, Any] | JSONResponse:
    """Honour ``tokens.customerUniqueToken``/``isSaveCard``/``tokens.creditCard`` on a created charge.

    ``creditCard`` charges the saved card at once and answers ``transactionData`` instead of ``link`` (§18).
    """
    tokens = body.get("tokens") if isinstance(body, dict) else None
    if not isinstance(tokens, dict) or not tokens:
        return data
    vault = vault_of(request)
    session = str(data.get("session_id") or "")
    if not session and data.get("invoice_id"):  # create-invoice answers carry no session id (§4.2)
        invoiced = vault.sandbox.store.payment_by_invoice(str(data["invoice_id"]))
        session = str(invoiced["session_id"]) if invoiced else ""
    customer_token = _digits(tokens.get("customerUniqueToken")) if tokens.get("customerUniqueToken") else None
    if tokens.get("customerUniqueToken") and (customer_token is None or not vault.known(customer_token)):
        return _invalid("tokens.customerUniqueToken", "The selected tokens.customer unique token is invalid.")
    vault.remember_charge(session, customer_token, bool(body.get("isSaveCard")))
    credit = tokens.get("creditCard")
    if not credit:
        return data
    card = vault.card(str(credit))
    if card is None:
        return _token_invalid()
    result = "NOT CAPTURED" if card["declines"] else "CAPTURED"
    done = vault.sandbox.complete(session, "cc", result)
    payment = done.payment
    return {"transactionData": {"redirect_url": done.redirect_url, "result": result,
                                "track_id": done.attempt["track_id"], "payment_id": done.attempt["payment_id"],
                                "total_price": format_amount(payment["amount_fils"], payment["currency"]),
                                "refund_order_id": done.attempt["upay_order_id"]}, "session_id": session}
