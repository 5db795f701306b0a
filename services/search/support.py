"""SQLite helpers that keep search fast at a million payments: a daily summary, an FTS5 index, a read engine.

- ``payment_search_daily``: count and amount per (Kuwait day, status, method, family), kept exact by triggers on
  ``payment``; totals of a filter that only narrows those dimensions are read from it (≤ a few thousand rows)
  instead of summing up to a million payments.
- ``payment_search_amounts``: count per (exact amount, status, method, family), also kept by triggers: totals of an
  amount range (without dates) read a few thousand rows, because shops sell at a limited set of prices.
- ``payment_search_day_ids``: the smallest and largest payment id of each Kuwait day. Payments arrive roughly in
  time order, so free text within a day range only needs the FTS matches inside that id span (a superset).
- ``payment_fts``: an external-content FTS5 table over customer name, e-mail, description and ids (unicode61
  tokenizer, ``detail=none`` and prefix indexes of 2–8 characters: small, and prefix look-ups stay a few ms),
  kept in sync by triggers. Free text matches whole tokens and token prefixes, never arbitrary infixes.
- A read-only engine per database file without the app engine's ``BEGIN IMMEDIATE`` hook: searches and long
  exports then read a WAL snapshot and never hold the write lock that webhooks and refunds need.

On other databases (PostgreSQL) none of this exists and search falls back to plain SQL (``ILIKE`` for text).
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, text
from sqlalchemy.engine import Connection, Engine

from services.money import ASCII_DIGITS

log = logging.getLogger(__name__)

SUMMARY_TABLE = "payment_search_daily"
AMOUNTS_TABLE = "payment_search_amounts"
DAY_IDS_TABLE = "payment_search_day_ids"
FTS_TABLE = "payment_fts"
FTS_COLUMNS = ("customer_name", "customer_email", "description", "order_id", "track_id", "payment_id",
               "reference", "upay_order_id")
#: The summary table for queries (created by :func:`ensure_search_support`, not by the SQLModel metadata).
SUMMARY = Table(
    SUMMARY_TABLE, MetaData(), Column("day", String, primary_key=True), Column("status", String, primary_key=True),
    Column("method", String, primary_key=True), Column("family", String, primary_key=True),
    Column("n", Integer), Column("amount", Integer),
)
#: Count per (exact amount, status, method, family), every day: totals of an amount range without a date range.
AMOUNTS = Table(
    AMOUNTS_TABLE, MetaData(), Column("amount", Integer, primary_key=True), Column("status", String, primary_key=True),
    Column("method", String, primary_key=True), Column("family", String, primary_key=True), Column("n", Integer),
)
#: Smallest and largest payment id created on each Kuwait day (a superset after deletes, which is all we need).
DAY_IDS = Table(
    DAY_IDS_TABLE, MetaData(), Column("day", String, primary_key=True), Column("lo", Integer), Column("hi", Integer),
)
#: Indexes search needs beyond services/models.py (proposed there; created here until they move). The three
#: covering indexes let one index answer "which rows, in which order, how much" without touching the table.
EXTRA_INDEXES: dict[str, str] = {
    "ix_payment_created_cover": "CREATE INDEX IF NOT EXISTS ix_payment_created_cover ON payment "
                                "(created_at, status, method_family, method, amount_fils)",
    "ix_payment_amount_cover": "CREATE INDEX IF NOT EXISTS ix_payment_amount_cover ON payment "
                               "(amount_fils, created_at, status, method_family, method)",
    "ix_payment_status_cover": "CREATE INDEX IF NOT EXISTS ix_payment_status_cover ON payment "
                               "(status, created_at, method_family, method, amount_fils)",
    "ix_payment_email_lower": "CREATE INDEX IF NOT EXISTS ix_payment_email_lower ON payment (lower(customer_email))",
    "ix_webhook_payment": "CREATE INDEX IF NOT EXISTS ix_webhook_payment ON webhookevent (payment_pk, received_at)",
}
# Identifiers in the SQL below are module constants, never user input (hence the S608 waivers).
# Asia/Kuwait is UTC+3 all year (no DST in tzdata since 1950): a Kuwait day is date(created_at + 3h).
# The fraction is cut first: SQLite's date() rounds to milliseconds, so 20:59:59.9999 UTC would become the next day.
_KUWAIT_DAY = "date(substr({row}.created_at, 1, 19), '+3 hours')"

_ready: weakref.WeakSet[Engine] = weakref.WeakSet()
_lock = threading.Lock()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _summary_sql(row: str, sign: str) -> str:
    day = _KUWAIT_DAY.format(row=row)
    return (
        f"INSERT INTO {SUMMARY_TABLE} (day, status, method, family, n, amount) VALUES ({day}, {row}.status, "  # noqa: S608
        f"coalesce({row}.method, ''), coalesce({row}.method_family, ''), {sign}1, {sign}{row}.amount_fils) "
        f"ON CONFLICT (day, status, method, family) DO UPDATE SET n = n + excluded.n, "
        f"amount = amount + excluded.amount;"
    )


def _amounts_sql(row: str, sign: str) -> str:
    return (
        f"INSERT INTO {AMOUNTS_TABLE} (amount, status, method, family, n) VALUES ({row}.amount_fils, "  # noqa: S608
        f"{row}.status, coalesce({row}.method, ''), coalesce({row}.method_family, ''), {sign}1) "
        "ON CONFLICT (amount, status, method, family) DO UPDATE SET n = n + excluded.n;"
    )


def _day_ids_sql() -> str:
    day = _KUWAIT_DAY.format(row="new")
    return (
        f"INSERT INTO {DAY_IDS_TABLE} (day, lo, hi) VALUES ({day}, new.id, new.id) "  # noqa: S608
        "ON CONFLICT (day) DO UPDATE SET lo = min(lo, excluded.lo), hi = max(hi, excluded.hi);"
    )


def _fts_sql(row: str, delete: bool) -> str:
    cols = ", ".join(FTS_COLUMNS)
    values = ", ".join(f"{row}.{c}" for c in FTS_COLUMNS)
    if delete:
        return f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, {cols}) VALUES ('delete', {row}.id, {values});"  # noqa: S608
    return f"INSERT INTO {FTS_TABLE} (rowid, {cols}) VALUES ({row}.id, {values});"  # noqa: S608


def _ddl() -> list[tuple[str, str]]:
    """(object name, CREATE statement) for every object, in creation order."""
    summary_cols = "status, method, method_family, amount_fils, created_at"
    return [
        (SUMMARY_TABLE, f"CREATE TABLE {SUMMARY_TABLE} (day TEXT NOT NULL, status TEXT NOT NULL, "
                        "method TEXT NOT NULL, family TEXT NOT NULL, n INTEGER NOT NULL, amount INTEGER NOT NULL, "
                        "PRIMARY KEY (day, status, method, family)) WITHOUT ROWID"),
        (FTS_TABLE, f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5({', '.join(FTS_COLUMNS)}, content='payment', "
                    "content_rowid='id', tokenize='unicode61 remove_diacritics 2', "
                    "prefix='2 3 4 5 6 7 8', detail=none)"),
        ("payment_search_ai", "CREATE TRIGGER payment_search_ai AFTER INSERT ON payment BEGIN "
                              f"{_summary_sql('new', '')} {_fts_sql('new', False)} END"),
        ("payment_search_ad", "CREATE TRIGGER payment_search_ad AFTER DELETE ON payment BEGIN "
                              f"{_summary_sql('old', '-')} {_fts_sql('old', True)} END"),
        ("payment_search_au_sum", f"CREATE TRIGGER payment_search_au_sum AFTER UPDATE OF {summary_cols} ON payment "
                                  f"BEGIN {_summary_sql('old', '-')} {_summary_sql('new', '')} END"),
        ("payment_search_au_fts", f"CREATE TRIGGER payment_search_au_fts AFTER UPDATE OF {', '.join(FTS_COLUMNS)} "
                                  f"ON payment BEGIN {_fts_sql('old', True)} {_fts_sql('new', False)} END"),
        (AMOUNTS_TABLE, f"CREATE TABLE {AMOUNTS_TABLE} (amount INTEGER NOT NULL, status TEXT NOT NULL, "
                        "method TEXT NOT NULL, family TEXT NOT NULL, n INTEGER NOT NULL, "
                        "PRIMARY KEY (amount, status, method, family)) WITHOUT ROWID"),
        ("payment_search_amounts_ai", "CREATE TRIGGER payment_search_amounts_ai AFTER INSERT ON payment BEGIN "
                                      f"{_amounts_sql('new', '')} END"),
        ("payment_search_amounts_ad", "CREATE TRIGGER payment_search_amounts_ad AFTER DELETE ON payment BEGIN "
                                      f"{_amounts_sql('old', '-')} END"),
        ("payment_search_amounts_au", "CREATE TRIGGER payment_search_amounts_au AFTER UPDATE OF status, method, "
                                      "method_family, amount_fils ON payment BEGIN "
                                      f"{_amounts_sql('old', '-')} {_amounts_sql('new', '')} END"),
        (DAY_IDS_TABLE, f"CREATE TABLE {DAY_IDS_TABLE} (day TEXT NOT NULL PRIMARY KEY, lo INTEGER NOT NULL, "
                        "hi INTEGER NOT NULL) WITHOUT ROWID"),
        ("payment_search_day_ids_ai", "CREATE TRIGGER payment_search_day_ids_ai AFTER INSERT ON payment BEGIN "
                                      f"{_day_ids_sql()} END"),
        ("payment_search_day_ids_au", "CREATE TRIGGER payment_search_day_ids_au AFTER UPDATE OF created_at ON "
                                      f"payment BEGIN {_day_ids_sql()} END"),
    ]


def _populate(conn: Connection, created: set[str]) -> None:
    if SUMMARY_TABLE in created:
        conn.exec_driver_sql(
            f"INSERT INTO {SUMMARY_TABLE} (day, status, method, family, n, amount) "  # noqa: S608
            f"SELECT {_KUWAIT_DAY.format(row='payment')}, status, coalesce(method, ''), "
            "coalesce(method_family, ''), count(*), sum(amount_fils) FROM payment GROUP BY 1, 2, 3, 4"
        )
    if AMOUNTS_TABLE in created:
        conn.exec_driver_sql(
            f"INSERT INTO {AMOUNTS_TABLE} (amount, status, method, family, n) SELECT amount_fils, status, "  # noqa: S608
            "coalesce(method, ''), coalesce(method_family, ''), count(*) FROM payment GROUP BY 1, 2, 3, 4"
        )
    if DAY_IDS_TABLE in created:
        conn.exec_driver_sql(
            f"INSERT INTO {DAY_IDS_TABLE} (day, lo, hi) SELECT {_KUWAIT_DAY.format(row='payment')}, "  # noqa: S608
            "min(id), max(id) FROM payment GROUP BY 1"
        )
    if FTS_TABLE in created:
        conn.exec_driver_sql("INSERT INTO payment_fts (payment_fts) VALUES ('rebuild')")


def ensure_search_support(engine: Engine) -> bool:
    """Create the summary, FTS table, triggers and extra indexes if missing (idempotent, cheap once done).

    Returns whether anything was created. Existing payments are summarised and indexed in the same transaction,
    so the derived tables are never out of step with ``payment``. A no-op on databases other than SQLite.
    """
    if not is_sqlite(engine) or engine in _ready:
        return False
    with _lock:
        if engine in _ready:
            return False
        with engine.begin() as conn:  # BEGIN IMMEDIATE: one creator at a time, across processes too
            existing = {row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
            created: set[str] = set()
            for name, ddl in _ddl():
                if name not in existing:
                    conn.exec_driver_sql(ddl)
                    created.add(name)
            for name, ddl in EXTRA_INDEXES.items():
                if name not in existing:
                    conn.exec_driver_sql(ddl)
                    created.add(name)
            if created:
                _populate(conn, created)
                log.info("search support created: %s", ", ".join(sorted(created)))
        _ready.add(engine)
    return bool(created)


def has_support(engine: Engine) -> bool:
    """Whether the summary and FTS index may be used for ``engine``."""
    return engine in _ready


_WORD = re.compile(r"\w+", re.UNICODE)


def words(text_value: str) -> list[list[str]]:
    """Whitespace-separated words of a query, each split into the tokens FTS5's unicode61 tokenizer sees."""
    out = []
    for word in text_value.translate(ASCII_DIGITS).split():
        tokens = [t.lower() for t in _WORD.findall(word.replace("_", " "))]
        if tokens:
            out.append(tokens)
    return out


def fts_query(text_value: str) -> str | None:
    """An FTS5 MATCH expression: every word's tokens must all occur; a word's last token may be a prefix.

    Inside a word such as ``Al-Sabah`` or ``B1-000123`` tokens shorter than 3 characters other than the last are
    dropped: they occur in almost every row, cost the most to intersect and narrow nothing. A one-character last
    token (``TRK-B``) is matched whole, since a one-character prefix would match nearly everything.
    """
    terms: list[str] = []
    for tokens in words(text_value):
        kept = [t for t in tokens[:-1] if len(t) >= 3] + tokens[-1:]
        terms.extend(f'"{t}"' for t in kept[:-1])
        terms.append(f'"{kept[-1]}"' + ("*" if len(kept[-1]) > 1 else ""))
    return " AND ".join(terms) or None


def fts_ids_sql(limit: int | None = None, *, span: bool = False) -> Any:
    """``SELECT rowid … MATCH :fts`` for ``payment.id IN (…)``; with ``span`` only ids in ``:low…:high``, with
    ``limit`` only the newest (largest) that many."""
    sql = "SELECT rowid FROM payment_fts WHERE payment_fts MATCH :fts"
    if span:
        sql += " AND rowid BETWEEN :low AND :high"
    if limit is None:
        return text(sql)
    return text(sql + " ORDER BY rowid DESC LIMIT :fts_limit").bindparams(fts_limit=limit)


def fts_count_sql(*, span: bool = False) -> Any:
    """``SELECT count(*) … MATCH :fts`` (with ``span``, ids in ``:low…:high`` only), from the index alone."""
    if span:
        return text("SELECT count(*) FROM payment_fts WHERE payment_fts MATCH :fts AND rowid BETWEEN :low AND :high")
    return text("SELECT count(*) FROM payment_fts WHERE payment_fts MATCH :fts")
