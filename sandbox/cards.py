"""Saved cards in the sandbox (contract §8, §18 F9/F10): unique tokens, list, remove, auto-deduct, and charges that
carry ``tokens``/``isSaveCard``; the customer-facing pages are in :mod:`sandbox.cards_page`. Simulator choices are
marked as such.

Test cards for the "my cards" page (any future expiry, any CVV):

====================  ==========  =============================================
number                brand       auto-deduct
====================  ==========  =============================================
5123450000000008      MASTERCARD  CAPTURED
4111111111111111      VISA        CAPTURED
4000000000000002      VISA        NOT CAPTURED (the designated declined card)
====================  ==========  =============================================

Only the masked number (``512345xxxxxx0008``), brand and scheme are stored — never the full number. KNET saved
cards (KFAST) are kept by KNET and are not offered here, as in UPayments' own sandbox (§18).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.money import format_amount
from services.timeutil import utcnow

from . import ids
from .store import Row, iso
from .wire import gateway_time

if TYPE_CHECKING:
    from .core import Sandbox

#: number → (brand, declined on auto-deduct). Anything else is refused on the page.
TEST_CARDS: dict[str, tuple[str, bool]] = {
    "5123450000000008": ("MASTERCARD", False),
    "4111111111111111": ("VISA", False),
    "4000000000000002": ("VISA", True),
}
DECLINED_TEST_CARD = "4000000000000002"
INVALID_TOKEN = "The selected card.token is invalid."  # noqa: S105 - an error message

_SCHEMA = """
CREATE TABLE IF NOT EXISTS customer_token (token TEXT PRIMARY KEY, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS saved_card (
    token TEXT PRIMARY KEY, customer_token TEXT NOT NULL, brand TEXT NOT NULL, number TEXT NOT NULL,
    scheme TEXT NOT NULL, declines INTEGER NOT NULL, created_at TEXT NOT NULL, removed_at TEXT
);
CREATE INDEX IF NOT EXISTS ix_saved_card_customer ON saved_card (customer_token, created_at);
CREATE TABLE IF NOT EXISTS card_session (
    session_id TEXT PRIMARY KEY, customer_token TEXT NOT NULL, return_url TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS charge_tokens (
    session_id TEXT PRIMARY KEY, customer_token TEXT, save_card INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS auto_deduct (
    id INTEGER PRIMARY KEY AUTOINCREMENT, merchant_order_id TEXT NOT NULL, session_id TEXT, card_token TEXT NOT NULL,
    amount_fils INTEGER, currency TEXT, http_status INTEGER NOT NULL, result TEXT, created_at TEXT NOT NULL,
    request TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_auto_deduct_order ON auto_deduct (merchant_order_id);
"""


def masked(number: str) -> str:
    """``5123450000000008`` → ``512345xxxxxx0008`` (first 6, last 4, as the gateway shows it)."""
    return number[:6] + "x" * (len(number) - 10) + number[-4:]


class Vault:
    """The sandbox's saved-card state on its own connection to the sandbox file (WAL, one writer at a time)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._lock = threading.RLock()
        self._db = sqlite3.connect(sandbox.store.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        with self._lock:
            return int(self._db.execute(sql, args).rowcount or 0)

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> Row | None:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return dict(row) if row is not None else None

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[Row]:
        with self._lock:
            return [dict(r) for r in self._db.execute(sql, args).fetchall()]

    # ------------------------------------------------------------ tokens and cards

    def register(self, token: str) -> bool:
        """A new customer unique token; False when it exists already."""
        return self._exec("INSERT OR IGNORE INTO customer_token VALUES (?, ?)", (token, iso(utcnow()))) == 1

    def known(self, token: str) -> bool:
        return self._one("SELECT 1 AS x FROM customer_token WHERE token = ?", (token,)) is not None

    def save(self, customer_token: str, number: str, *, token: str | None = None) -> Row:
        """Save a test card for a customer: only the masked number is kept."""
        brand, declines = TEST_CARDS[number]
        card_token = token or str(secrets.randbelow(9 * 10**15) + 10**15)
        self._exec("INSERT OR REPLACE INTO saved_card VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                   (card_token, customer_token, brand, masked(number), brand, int(declines), iso(utcnow())))
        card = self.card(card_token)
        assert card is not None
        return card

    def card(self, card_token: str) -> Row | None:
        """A saved card that has not been removed."""
        return self._one("SELECT * FROM saved_card WHERE token = ? AND removed_at IS NULL", (card_token,))

    def cards(self, customer_token: str) -> list[Row]:
        return self._all("SELECT * FROM saved_card WHERE customer_token = ? AND removed_at IS NULL "
                         "ORDER BY created_at, token", (customer_token,))

    def remove(self, card_token: str) -> bool:
        return self._exec("UPDATE saved_card SET removed_at = ? WHERE token = ? AND removed_at IS NULL",
                          (iso(utcnow()), card_token)) == 1

    def new_session(self, customer_token: str, return_url: str) -> str:
        session = secrets.token_hex(16)
        self._exec("INSERT INTO card_session VALUES (?, ?, ?, ?)", (session, customer_token, return_url,
                                                                    iso(utcnow())))
        return session

    def session(self, session_id: str) -> Row | None:
        return self._one("SELECT * FROM card_session WHERE session_id = ?", (session_id,))

    # ------------------------------------------------------------ charges

    def remember_charge(self, session_id: str, customer_token: str | None, save_card: bool) -> None:
        self._exec("INSERT OR REPLACE INTO charge_tokens VALUES (?, ?, ?)", (session_id, customer_token,
                                                                             int(save_card)))

    def charge_tokens(self, session_id: str) -> Row | None:
        return self._one("SELECT * FROM charge_tokens WHERE session_id = ?", (session_id,))

    def record_auto_deduct(self, order_id: str, session_id: str | None, card_token: str, amount_fils: int | None,
                           currency: str | None, http_status: int, result: str | None, body: Any) -> None:
        self._exec("INSERT INTO auto_deduct (merchant_order_id, session_id, card_token, amount_fils, currency, "
                   "http_status, result, created_at, request) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (order_id, session_id, card_token, amount_fils, currency, http_status, result, iso(utcnow()),
                    json.dumps(body, default=str)))

    def auto_deducts(self, order_id: str | None = None) -> list[Row]:
        if order_id is None:
            return self._all("SELECT * FROM auto_deduct ORDER BY id")
        return self._all("SELECT * FROM auto_deduct WHERE merchant_order_id = ? ORDER BY id", (order_id,))

    def session_of_order(self, order_id: str) -> str | None:
        """The charge an auto-deduct with this merchant order id made (for the status look-up by order id)."""
        row = self._one("SELECT session_id FROM auto_deduct WHERE merchant_order_id = ? AND session_id IS NOT NULL "
                        "ORDER BY id DESC LIMIT 1", (order_id,))
        return str(row["session_id"]) if row else None

    def charge_card(self, *, order_id: str, amount_fils: int, currency: str, description: str, card: Row,
                    customer: dict[str, Any], reference: str | None, token: str, language: str = "en") -> Row:
        """Make a payment and one card attempt for a saved card (auto-deduct or ``tokens.creditCard``)."""
        now = utcnow()
        session = ids.session_id()
        self.sandbox.store.insert_payment({
            "session_id": session, "token": token, "merchant_order_id": order_id, "reference": reference,
            "order_reference": reference, "description": description, "amount_fils": amount_fils,
            "currency": currency, "language": language, "src": "cc", "notification_type": None,
            "invoice_code": None, "invoice_no": ids.invoice_number(), "customer": json.dumps(customer),
            "products": "[]", "return_url": "", "cancel_url": "", "notify_url": "", "customer_extra_data": None,
            "whitelabel": 1, "reserved_track_id": None, "created_at": iso(now), "expires_at": None, "demo": 0,
        })
        result = "NOT CAPTURED" if card["declines"] else "CAPTURED"
        done = self.sandbox.complete(session, "cc", result)
        return done.attempt


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


# ---------------------------------------------------------------- charge with tokens (F9)

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


ROUTES = [
    Route("/api/v1/create-customer-unique-token", create_token, methods=["POST"]),
    Route("/api/v1/add-card", add_card, methods=["POST"]),
    Route("/api/v1/retrieve-customer-cards", retrieve_cards, methods=["POST"]),
    Route("/api/v1/remove-card", remove_card, methods=["POST"]),
    Route("/api/v1/auto-deduct", auto_deduct, methods=["POST"]),
    Route("/__sandbox/auto-deducts", admin_auto_deducts, methods=["GET"]),
    Route("/__sandbox/cards", admin_save, methods=["POST"]),
]
