"""The saved-card endpoints of the gateway API (contract §8, §18 F10): create-customer-unique-token, add-card,
retrieve-customer-cards, remove-card and auto-deduct, answering as the live gateway does. Simulator choices are
marked as such. There is no status look-up by the merchant's order id (live has none, §6.1): a lost auto-deduct
answer can only be settled by its track id.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse

from services.money import format_amount

from .card_vault import Vault
from .wire import gateway_time

INVALID_TOKEN = "The selected card.token is invalid."  # noqa: S105 - an error message


def vault_of(request: Request) -> Vault:
    from .http import sandbox_of

    vault: Vault = sandbox_of(request).cards
    return vault


def _invalid(field: str, message: str) -> JSONResponse:
    return JSONResponse({"message": message, "errors": {field: [message]}}, status_code=422)


def _token_invalid() -> JSONResponse:
    # §8.6 OAS: exactly this body, with an empty errors list.
    return JSONResponse({"message": INVALID_TOKEN, "errors": []}, status_code=422)


def _digits(value: Any) -> str | None:
    """A customer unique token as sent: a number or a string of digits (8–18, no leading zero)."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(text, str) and text.isascii() and text.isdigit() and 8 <= len(text) <= 18 and text[0] != "0":
        return text
    return None


async def _json_object(request: Request) -> dict[str, Any] | JSONResponse:
    from .http import TooLarge, bearer, invalid, read_json, too_large, unauthorized
    from .validation import Invalid

    if bearer(request) is None:
        return unauthorized()
    try:
        body = await read_json(request)
    except TooLarge:
        return too_large()
    except Invalid as exc:
        return invalid(exc)
    if not isinstance(body, dict):
        return _invalid("body", "The request body must be a JSON object.")
    return body


def _ok(data: Any, message: str, status: int = 201) -> JSONResponse:
    return JSONResponse({"status": True, "message": message, "data": data}, status_code=status)


async def create_token(request: Request) -> JSONResponse:
    """``POST create-customer-unique-token`` (§8.1): 201; an existing token is refused (plugins ignore it)."""
    body = await _json_object(request)
    if isinstance(body, JSONResponse):
        return body
    token = _digits(body.get("customerUniqueToken"))
    if token is None:
        return _invalid("customerUniqueToken", "The customer unique token must be 8 to 18 digits.")
    if not vault_of(request).register(token):
        return JSONResponse({"status": False, "message": "Customer unique token already exists.", "data": {}},
                            status_code=200)  # simulator choice of refusal; non-fatal for every plugin
    return _ok({"customerUniqueToken": int(token)}, "Customer unique token created successfully")


async def add_card(request: Request) -> JSONResponse:
    """``POST add-card`` (§8.2) → ``data.link`` of the hosted "my cards" page."""
    body = await _json_object(request)
    if isinstance(body, JSONResponse):
        return body
    token = _digits(body.get("customerUniqueToken"))
    return_url = body.get("returnUrl")
    if token is None or not vault_of(request).known(token):
        return _invalid("customerUniqueToken", "The selected customer unique token is invalid.")
    if not isinstance(return_url, str) or urlsplit(return_url).scheme not in ("http", "https"):
        return _invalid("returnUrl", "The return url must be a valid URL.")
    vault = vault_of(request)
    session = vault.new_session(token, return_url)
    return _ok({"link": f"{vault.sandbox.public_base()}/my-cards?session_id={session}"}, "Add card link generated")


async def retrieve_cards(request: Request) -> JSONResponse:
    """``POST retrieve-customer-cards`` (§8.4): masked numbers only, no expiry."""
    body = await _json_object(request)
    if isinstance(body, JSONResponse):
        return body
    token = _digits(body.get("customerUniqueToken"))
    if token is None or not vault_of(request).known(token):
        return _invalid("customerUniqueToken", "The selected customer unique token is invalid.")
    cards = [{"brand": c["brand"], "number": c["number"], "scheme": c["scheme"], "token": c["token"]}
             for c in vault_of(request).cards(token)]
    return _ok({"customerCards": cards}, "Customer cards retrieved successfully")


async def remove_card(request: Request) -> JSONResponse:
    """``POST remove-card`` (§8.5) ``{token}``; unknown or removed → 422 "The selected card.token is invalid."."""
    body = await _json_object(request)
    if isinstance(body, JSONResponse):
        return body
    token = body.get("token")
    if not isinstance(token, str | int) or not vault_of(request).remove(str(token)):
        return _token_invalid()
    return _ok({}, "Card removed successfully")


def _amount(order: dict[str, Any]) -> tuple[int, str] | None:
    from services.money import parse_amount

    currency = order.get("currency")
    amount = order.get("amount")
    if not isinstance(currency, str) or not isinstance(amount, int | Decimal | str) or isinstance(amount, bool):
        return None
    try:
        return parse_amount(Decimal(str(amount)), currency.upper()), currency.upper()
    except (ValueError, ArithmeticError):
        return None


async def auto_deduct(request: Request) -> JSONResponse:
    """``POST auto-deduct`` (§8.6, F10): **HTTP 200**; our ``order.id`` comes back as ``order_id``/``orderId``.

    A declined card (the designated test card) answers 200 with ``result: "NOT CAPTURED"`` and the message
    "Your payment transaction was declined" (simulator choice: the attempt exists at the gateway, with ids).
    """
    from .http import bearer

    body = await _json_object(request)
    if isinstance(body, JSONResponse):
        return body
    vault = vault_of(request)
    order: dict[str, Any] = body["order"] if isinstance(body.get("order"), dict) else {}
    card_part: dict[str, Any] = body["card"] if isinstance(body.get("card"), dict) else {}
    customer: dict[str, Any] = body["customer"] if isinstance(body.get("customer"), dict) else {}
    order_id = order.get("id")
    card_token = str(card_part.get("token") or "")
    money = _amount(order)
    if not isinstance(order_id, str) or not order_id or len(order_id) > 50 or money is None:
        return _invalid("order", "The order id, amount and currency are required.")
    card = vault.card(card_token)
    owner = _digits(customer.get("uniqueToken"))
    if card is None or (owner is not None and owner != card["customer_token"]):
        vault.record_auto_deduct(order_id, None, card_token, money[0], money[1], 422, None, body)
        return _token_invalid()
    reference = body.get("reference", {}).get("id") if isinstance(body.get("reference"), dict) else None
    attempt = vault.charge_card(order_id=order_id, amount_fils=money[0], currency=money[1],
                                description=str(order.get("description") or "Auto-deduct"), card=card,
                                customer=customer, reference=reference, token=bearer(request) or "")
    vault.record_auto_deduct(order_id, attempt["session_id"], card_token, money[0], money[1], 200,
                             attempt["result"], body)
    tx = {"invoice_id": vault.sandbox.store.payment(attempt["session_id"])["invoice_no"],  # type: ignore[index]
          "track_id": attempt["track_id"], "amount": format_amount(money[0], money[1]), "currency": money[1],
          "session_id": attempt["session_id"], "status": "done", "reference": reference,
          "payment_id": attempt["payment_id"], "payment_type": "card", "order_id": order_id,
          "result": attempt["result"], "transaction_date": gateway_time(attempt["created_at"])}
    message = ("Your payment transaction was successful" if attempt["result"] == "CAPTURED"
               else "Your payment transaction was declined")
    return _ok({"trackId": attempt["track_id"], "transaction": tx}, message, status=200)
