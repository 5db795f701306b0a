"""The sandbox's saved-card state (contract §8, §18): customer unique tokens, saved test cards, add-card sessions,
the tokens a charge carried, and every auto-deduct call received (tests count them).

The test cards and what each answers to auto-deduct are listed in :mod:`sandbox.cards`. Only the masked number,
brand and scheme are stored — never the full number.
"""


from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from typing import TYPE_CHECKING, Any

from services.timeutil import utcnow

from . import ids
from .store import Row, iso

if TYPE_CHECKING:
    from .core import Sandbox

#: number → (brand, declined on auto-deduct). Anything else is refused on the page.
TEST_CARDS: dict[str, tuple[str, bool]] = {
    "5123450000000008": ("MASTERCARD", False),
    "4111111111111111": ("VISA", False),
    "4000000000000002": ("VISA", True),
}
DECLINED_TEST_CARD = "4000000000000002"

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
