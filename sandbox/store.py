"""The sandbox's own SQLite file (stdlib sqlite3, WAL): charges, payment attempts, refunds, a few settings.

One connection guarded by a lock: the simulator's load is small and this keeps multi-step checks (refund
limits, balance) atomic without retry loops. A restart on the same file loses nothing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.money import format_money

Row = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS payment (
    session_id TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    merchant_order_id TEXT NOT NULL,
    reference TEXT,
    order_reference TEXT,
    description TEXT NOT NULL,
    amount_fils INTEGER NOT NULL,
    currency TEXT NOT NULL,
    language TEXT NOT NULL,
    src TEXT,
    notification_type TEXT,
    invoice_code TEXT UNIQUE,
    invoice_no TEXT NOT NULL,
    customer TEXT NOT NULL,
    products TEXT NOT NULL,
    return_url TEXT NOT NULL,
    cancel_url TEXT NOT NULL,
    notify_url TEXT NOT NULL,
    customer_extra_data TEXT,
    whitelabel INTEGER NOT NULL,
    reserved_track_id TEXT UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    demo INTEGER NOT NULL DEFAULT 0,
    extra_merchants TEXT
);
CREATE INDEX IF NOT EXISTS ix_payment_merchant_order ON payment (merchant_order_id, created_at);
CREATE INDEX IF NOT EXISTS ix_payment_invoice_no ON payment (invoice_no);
CREATE TABLE IF NOT EXISTS attempt (
    track_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES payment (session_id),
    upay_order_id TEXT NOT NULL UNIQUE,
    src TEXT NOT NULL,
    payment_type TEXT NOT NULL,
    result TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    tran_id TEXT NOT NULL,
    ref TEXT NOT NULL,
    auth TEXT NOT NULL,
    post_date TEXT NOT NULL,
    created_at TEXT NOT NULL,
    redirect_url TEXT NOT NULL,
    notify_called INTEGER NOT NULL DEFAULT 0,
    notify_response TEXT,
    notify_attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_attempt_session ON attempt (session_id, created_at);
CREATE TABLE IF NOT EXISTS refund (
    refund_order_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL UNIQUE,
    upay_order_id TEXT NOT NULL,
    amount_fils INTEGER NOT NULL,
    currency TEXT NOT NULL,
    arn TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    refunded_at TEXT,
    deleted_at TEXT,
    request TEXT,
    request_id TEXT,
    generated_invoice_id TEXT
);
CREATE INDEX IF NOT EXISTS ix_refund_payment ON refund (upay_order_id, created_at);
CREATE INDEX IF NOT EXISTS ix_refund_due ON refund (state, due_at);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

PAYMENT_COLUMNS = (
    "session_id", "token", "merchant_order_id", "reference", "order_reference", "description", "amount_fils",
    "currency", "language", "src", "notification_type", "invoice_code", "invoice_no", "customer", "products",
    "return_url", "cancel_url", "notify_url", "customer_extra_data", "whitelabel", "reserved_track_id",
    "created_at", "expires_at", "demo", "extra_merchants",
)
ATTEMPT_COLUMNS = (
    "track_id", "session_id", "upay_order_id", "src", "payment_type", "result", "payment_id", "tran_id", "ref",
    "auth", "post_date", "created_at", "redirect_url", "notify_called", "notify_response", "notify_attempts",
)
REFUND_COLUMNS = (
    "refund_order_id", "order_id", "upay_order_id", "amount_fils", "currency", "arn", "state", "created_at",
    "due_at", "refunded_at", "deleted_at", "request", "request_id", "generated_invoice_id",
)
#: Columns added after the first release of the sandbox file: (table, column, type), added when missing.
_ADDED = (("payment", "extra_merchants", "TEXT"), ("refund", "request_id", "TEXT"),
          ("refund", "generated_invoice_id", "TEXT"))


def iso(value: datetime) -> str:
    """UTC ISO text with a fixed shape, so string order is time order."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(value: str | None) -> datetime | None:
    """Inverse of :func:`iso`."""
    return datetime.fromisoformat(value) if value else None


def _insert_sql(table: str, columns: tuple[str, ...], verb: str = "INSERT") -> str:
    return f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


class Refusal(Exception):
    """A business refusal the API reports as ``status:false`` with this message."""


class Store:
    """All sandbox state; every public method is one transaction."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        for table, column, kind in _ADDED:
            have = {r[1] for r in self._db.execute(f"PRAGMA table_info({table})").fetchall()}
            if column not in have:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, args: Iterable[Any] = ()) -> Row | None:
        with self._lock:
            row = self._db.execute(sql, tuple(args)).fetchone()
        return dict(row) if row is not None else None

    def _all(self, sql: str, args: Iterable[Any] = ()) -> list[Row]:
        with self._lock:
            return [dict(r) for r in self._db.execute(sql, tuple(args)).fetchall()]

    # ------------------------------------------------------------ key/value

    def get_value(self, key: str) -> str | None:
        """A stored setting, or None."""
        row = self._one("SELECT value FROM kv WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    def set_value(self, key: str, value: str) -> None:
        """Store a setting."""
        with self._tx() as db:
            db.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = ?",
                       (key, value, value))

    def init_balance(self, fils: int) -> None:
        """Set the merchant balance once (first start); later starts keep what refunds left."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO kv (key, value) VALUES ('balance_fils', ?)", (str(fils),))

    def balance(self) -> int:
        """Merchant balance in hand, fils."""
        return int(self.get_value("balance_fils") or 0)

    # ------------------------------------------------------------ payments and attempts

    def insert_payment(self, row: Row) -> None:
        """A new charge (session)."""
        with self._tx() as db:
            db.execute(_insert_sql("payment", PAYMENT_COLUMNS), tuple(row.get(c) for c in PAYMENT_COLUMNS))

    def payment(self, session_id: str) -> Row | None:
        """A charge by session id."""
        return self._one("SELECT * FROM payment WHERE session_id = ?", (session_id,))

    def payment_by_invoice(self, invoice_id: str, *, numeric: bool = True) -> Row | None:
        """A charge by invoice code (create-invoice), or (``numeric``) by the redirect's numeric invoice number."""
        found = self._one("SELECT * FROM payment WHERE invoice_code = ?", (invoice_id,))
        if found is not None or not numeric:
            return found
        return self._one("SELECT * FROM payment WHERE invoice_no = ? ORDER BY created_at DESC LIMIT 1",
                         (invoice_id,))

    def payment_by_merchant_order(self, merchant_order_id: str) -> Row | None:
        """The latest charge with this merchant ``order.id``."""
        return self._one("SELECT * FROM payment WHERE merchant_order_id = ? ORDER BY created_at DESC LIMIT 1",
                         (merchant_order_id,))

    def payment_by_reserved_track(self, track_id: str) -> Row | None:
        """A white-label charge whose track id was handed out before any attempt."""
        return self._one("SELECT * FROM payment WHERE reserved_track_id = ?", (track_id,))

    def attempt(self, track_id: str) -> Row | None:
        """One payment attempt by track id."""
        return self._one("SELECT * FROM attempt WHERE track_id = ?", (track_id,))

    def attempt_by_upay_order(self, upay_order_id: str) -> Row | None:
        """One attempt by its UPayments order id."""
        return self._one("SELECT * FROM attempt WHERE upay_order_id = ?", (upay_order_id,))

    def currency_of_upay_order(self, upay_order_id: str) -> str | None:
        """The currency of the charge an attempt (by its UPayments order id) belongs to, or None if unknown."""
        row = self._one("SELECT p.currency FROM attempt a JOIN payment p ON p.session_id = a.session_id "
                        "WHERE a.upay_order_id = ?", (upay_order_id,))
        return None if row is None else str(row["currency"])

    def attempts(self, session_id: str) -> list[Row]:
        """Every attempt on a charge, oldest first."""
        return self._all("SELECT * FROM attempt WHERE session_id = ? ORDER BY created_at, rowid", (session_id,))

    def latest_attempt(self, session_id: str) -> Row | None:
        """The captured attempt if any, else the newest."""
        return self._one(
            "SELECT * FROM attempt WHERE session_id = ? ORDER BY result = 'CAPTURED' DESC, created_at DESC, "
            "rowid DESC LIMIT 1",
            (session_id,),
        )

    def add_attempt(self, row: Row) -> None:
        """Record an attempt; refuses a second one once the charge is paid (checked inside the transaction)."""
        with self._tx() as db:
            paid = db.execute("SELECT 1 FROM attempt WHERE session_id = ? AND result = 'CAPTURED'",
                              (row["session_id"],)).fetchone()
            if paid is not None:
                raise Refusal("This payment is already paid.")
            if db.execute("SELECT 1 FROM attempt WHERE track_id = ?", (row["track_id"],)).fetchone():
                raise Refusal("This track id was already used.")
            db.execute(_insert_sql("attempt", ATTEMPT_COLUMNS), tuple(row.get(c) for c in ATTEMPT_COLUMNS))

    def record_notify(self, track_id: str, *, called: bool, response: dict[str, Any], attempts: int) -> None:
        """What the merchant's webhook endpoint answered."""
        with self._tx() as db:
            db.execute("UPDATE attempt SET notify_called = ?, notify_response = ?, notify_attempts = ? "
                       "WHERE track_id = ?", (int(called), json.dumps(response), attempts, track_id))

    # ------------------------------------------------------------ refunds

    def settle_due(self, now: datetime, *, all_now: bool = False) -> int:
        """Initiated refunds whose time has come become refunded (``all_now``: every initiated one)."""
        with self._tx() as db:
            if all_now:
                cur = db.execute("UPDATE refund SET state = 'refunded', refunded_at = ?, due_at = ? "
                                 "WHERE state = 'initiated'", (iso(now), iso(now)))
            else:
                cur = db.execute("UPDATE refund SET state = 'refunded', refunded_at = due_at "
                                 "WHERE state = 'initiated' AND due_at <= ?", (iso(now),))
            return cur.rowcount

    def refunds(self, upay_order_id: str, *, include_deleted: bool = False) -> list[Row]:
        """Refunds raised on one captured attempt, oldest first."""
        sql = "SELECT * FROM refund WHERE upay_order_id = ?"
        if not include_deleted:
            sql += " AND state != 'deleted'"
        return self._all(sql + " ORDER BY created_at, rowid", (upay_order_id,))

    def refund_by_order_id(self, order_id: str) -> Row | None:
        """A refund by the ``orderId`` create-refund returned."""
        return self._one("SELECT * FROM refund WHERE order_id = ?", (order_id,))

    def refund(self, refund_order_id: str) -> Row | None:
        """A refund by its ``refundOrderId``."""
        return self._one("SELECT * FROM refund WHERE refund_order_id = ?", (refund_order_id,))

    def create_refund(self, row: Row) -> Row:
        """Record a refund after the business checks (captured, remaining amount, balance), atomically."""
        with self._tx() as db:
            paid = db.execute("SELECT a.result, p.amount_fils, p.currency FROM attempt a JOIN payment p "
                              "ON p.session_id = a.session_id WHERE a.upay_order_id = ?",
                              (row["upay_order_id"],)).fetchone()
            if paid is None:
                raise Refusal("Invalid order id: no payment found for this orderId.")
            if paid["result"] != "CAPTURED":
                raise Refusal("Refund is allowed only for captured (paid) transactions.")
            taken = db.execute("SELECT COALESCE(SUM(amount_fils), 0) FROM refund WHERE upay_order_id = ? "
                               "AND state != 'deleted'", (row["upay_order_id"],)).fetchone()[0]
            remaining = int(paid["amount_fils"]) - int(taken)
            if row["amount_fils"] > remaining:
                left = format_money(remaining, paid["currency"])
                raise Refusal(f"Refund amount exceeds the refundable amount of this payment (remaining: {left}).")
            balance = int(db.execute("SELECT value FROM kv WHERE key = 'balance_fils'").fetchone()[0])
            if row["amount_fils"] > balance:
                raise Refusal("Insufficient balance to process the refund. Please top up your account.")
            db.execute("UPDATE kv SET value = ? WHERE key = 'balance_fils'", (str(balance - row["amount_fils"]),))
            db.execute(_insert_sql("refund", REFUND_COLUMNS), tuple(row.get(c) for c in REFUND_COLUMNS))
            return {**row, "remaining_fils": remaining - row["amount_fils"]}

    def delete_refund(self, refund_order_id: str, order_id: str, now: datetime, *, lenient: bool = False) -> Row:
        """Cancel an initiated refund and give its amount back to the balance."""
        self.settle_due(now)
        with self._tx() as db:
            found = db.execute("SELECT * FROM refund WHERE refund_order_id = ?", (refund_order_id,)).fetchone()
            # The docs pass the refund's own orderId; the payment's order id only with the lenient convenience.
            accepted = (found["order_id"], found["upay_order_id"]) if found is not None and lenient else (
                (found["order_id"],) if found is not None else ())
            if found is None or order_id not in accepted:
                raise Refusal("Refund not found for this orderId and refundOrderId.")
            if found["state"] == "deleted":
                raise Refusal("This refund is already deleted.")
            if found["state"] == "refunded":
                raise Refusal("This refund is already processed and cannot be deleted.")
            db.execute("UPDATE refund SET state = 'deleted', deleted_at = ? WHERE refund_order_id = ?",
                       (iso(now), refund_order_id))
            db.execute("UPDATE kv SET value = CAST(value AS INTEGER) + ? WHERE key = 'balance_fils'",
                       (found["amount_fils"],))
            return dict(found)

    # ------------------------------------------------------------ split payments (§11.2, §12.4–12.6)

    def split_of(self, upay_order_id: str) -> list[Row] | None:
        """The vendor shares of a captured split payment (``extraMerchantData``), or None if not split."""
        row = self._one("SELECT p.extra_merchants FROM attempt a JOIN payment p ON p.session_id = a.session_id "
                        "WHERE a.upay_order_id = ?", (upay_order_id,))
        if row is None or not row["extra_merchants"]:
            return None
        shares: list[Row] = json.loads(row["extra_merchants"])
        return shares

    def vendor_refunded(self, request_id: str) -> int:
        """Fils refunded (or initiated) so far on one vendor share."""
        row = self._one("SELECT COALESCE(SUM(amount_fils), 0) AS s FROM refund WHERE request_id = ? "
                        "AND state != 'deleted'", (request_id,))
        return int(row["s"]) if row else 0

    def vendor_balance(self, iban: str, default_fils: int) -> int:
        """A vendor's balance in hand (each vendor starts at ``default_fils``)."""
        value = self.get_value(f"vendor_balance:{iban}")
        return default_fils if value is None else int(value)

    def reset_vendor_balances(self) -> None:
        """Every vendor back to the configured starting balance."""
        with self._tx() as db:
            db.execute("DELETE FROM kv WHERE key LIKE 'vendor_balance:%'")

    def create_split_refunds(self, rows: list[Row], debits: dict[str, int], default_fils: int) -> None:
        """Record per-vendor refunds and take each amount from its vendor's balance, in one transaction."""
        with self._tx() as db:
            for iban, fils in debits.items():
                found = db.execute("SELECT value FROM kv WHERE key = ?", (f"vendor_balance:{iban}",)).fetchone()
                left = (int(found[0]) if found else default_fils) - fils
                db.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = ?",
                           (f"vendor_balance:{iban}", str(left), str(left)))
            for row in rows:
                db.execute(_insert_sql("refund", REFUND_COLUMNS), tuple(row.get(c) for c in REFUND_COLUMNS))

    def delete_split_refund(self, refund_order_id: str, order_id: str, generated_invoice_id: str, iban: str,
                            default_fils: int, now: datetime) -> Row:
        """Cancel one initiated per-vendor refund and give its amount back to the vendor (§12.5)."""
        self.settle_due(now)
        with self._tx() as db:
            found = db.execute("SELECT * FROM refund WHERE refund_order_id = ?", (refund_order_id,)).fetchone()
            if (found is None or found["order_id"] != order_id or found["request_id"] is None
                    or found["generated_invoice_id"] != generated_invoice_id):
                raise Refusal("Refund not found for this generatedInvoiceId, orderId and refundOrderId.")
            if found["state"] == "deleted":
                raise Refusal("This refund is already deleted.")
            if found["state"] == "refunded":
                raise Refusal("This refund is already processed and cannot be deleted.")
            db.execute("UPDATE refund SET state = 'deleted', deleted_at = ? WHERE refund_order_id = ?",
                       (iso(now), refund_order_id))
            key = f"vendor_balance:{iban}"
            held = db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
            back = str((int(held[0]) if held else default_fils) + int(found["amount_fils"]))
            db.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = ?",
                       (key, back, back))
            return dict(found)

    # ------------------------------------------------------------ bulk (demo seeding)

    def bulk_insert(self, payments: list[Row], attempts: list[Row], refunds: list[Row]) -> None:
        """Insert many rows in one transaction (executemany); rows already present are skipped."""
        with self._tx() as db:
            for table, columns, rows in (("payment", PAYMENT_COLUMNS, payments),
                                         ("attempt", ATTEMPT_COLUMNS, attempts),
                                         ("refund", REFUND_COLUMNS, refunds)):
                db.executemany(_insert_sql(table, columns, "INSERT OR IGNORE"),
                               [tuple(r.get(c) for c in columns) for r in rows])
