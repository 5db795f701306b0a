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

On PostgreSQL (migration 0011) the daily, amount and hourly summaries exist too, kept by a PL/pgSQL trigger, and
free text is ``LIKE`` against :data:`PG_SEARCH_TEXT` (migration 0012), which a ``pg_trgm`` index covers; there
is no FTS index, so the SQLite planner (:mod:`services.search.plan`) is not used there.
"""

from __future__ import annotations

import re
import weakref
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, text
from sqlalchemy.engine import Engine

from services.migrate import upgrade_to_head
from services.money import ASCII_DIGITS

SUMMARY_TABLE = "payment_search_daily"
AMOUNTS_TABLE = "payment_search_amounts"
DAY_IDS_TABLE = "payment_search_day_ids"
HOURS_TABLE = "payment_search_hours"
FTS_TABLE = "payment_fts"
FTS_COLUMNS = ("customer_name", "customer_email", "description", "order_id", "track_id", "payment_id",
               "reference", "upay_order_id")
#: The summary table for queries (created by the migrations, not described by the SQLModel metadata).
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
#: Captured (paid) payments per UTC clock hour ('YYYY-MM-DD HH'), method and family (migration 0006).
HOURS = Table(
    HOURS_TABLE, MetaData(), Column("hour", String, primary_key=True), Column("method", String, primary_key=True),
    Column("family", String, primary_key=True), Column("n", Integer),
)
#: Search support is built by the migrations (revision 0001, ``migrations/versions``), not here: the SQL that
#: creates the summary tables, the FTS index, its triggers and the covering indexes lives there.

#: PostgreSQL's free text (migration 0012): the eight text columns (``FTS_COLUMNS``) joined by a space and
#: lower-cased, a stored generated column with a ``pg_trgm`` index: ``LIKE lower('%token%')`` is answered from it.
PG_SEARCH_TEXT = "payment.search_text"

_ready: weakref.WeakSet[Engine] = weakref.WeakSet()
_summaries: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def ensure_search_support(engine: Engine) -> bool:
    """Bring the schema (search support included) to the newest migration and let search use it on SQLite.

    Returns whether this call applied a migration; cheap once done. On other databases (PostgreSQL) there is no
    summary or text index and search uses plain SQL.
    """
    applied = upgrade_to_head(engine)
    if is_sqlite(engine):
        _ready.add(engine)
    return applied


def has_support(engine: Engine) -> bool:
    """Whether the summary and FTS index may be used for ``engine``."""
    return engine in _ready


def has_summaries(engine: Engine) -> bool:
    """Whether the daily, amount and hourly summaries exist for ``engine``: SQLite with its search support, or
    PostgreSQL at migration 0011 or later (looked up once per engine)."""
    if engine in _ready:
        return True
    if engine.dialect.name != "postgresql":
        return False
    found = _summaries.get(engine)
    if found is None:
        with engine.connect() as conn:
            found = bool(conn.execute(text(
                "SELECT count(*) FROM pg_trigger WHERE tgname = 'payment_search_sync' AND NOT tgisinternal"
            )).scalar_one())
        _summaries[engine] = found
    return found


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


def optimize_search(engine: Engine) -> None:
    """After a bulk load (seeding, an import): merge the FTS5 index into one segment and refresh statistics.

    Rows written one by one through the triggers leave the text index in many small segments that every
    ``MATCH`` must visit (a broad word such as a common first name then costs three times as much), and a
    database without ``ANALYZE`` statistics lets the planner guess. Both are what a database built in bulk by
    the pre-migration code had. Takes the write lock for seconds at a million rows: run it off-hours.
    """
    if not is_sqlite(engine):
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        return
    raw = engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        driver.execute("INSERT INTO payment_fts (payment_fts) VALUES ('optimize')")
        driver.execute("ANALYZE")
        driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def search_health(engine: Engine) -> dict[str, Any]:
    """What the benchmarks print beside their figures: the database, FTS5 segment count and whether ANALYZE ran."""
    out: dict[str, Any] = {"dialect": engine.dialect.name, "database": engine.url.render_as_string(hide_password=True)}
    with engine.connect() as conn:
        if is_sqlite(engine):
            out["sqlite"] = conn.exec_driver_sql("SELECT sqlite_version()").scalar_one()
            out["analyzed"] = bool(conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").scalar_one()) and bool(
                conn.exec_driver_sql("SELECT count(*) FROM sqlite_stat1").scalar_one())
            out["fts_segments"] = _fts_segments(conn)
        else:
            out["analyzed"] = bool(conn.execute(text(
                "SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'payment' "
                "AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)")).scalar_one())
    return out


def _fts_segments(conn: Any) -> int | None:
    """Segments in the FTS5 index (1 after ``optimize``), read from its structure record (``fts5_index.c``: a
    4-byte cookie, then varints nLevel, nSegment, …)."""
    blob = conn.exec_driver_sql("SELECT block FROM payment_fts_data WHERE id = 10").scalar_one_or_none()
    if blob is None:
        return None
    values: list[int] = []
    i = 4
    while i < len(blob) and len(values) < 2:
        value = 0
        while True:
            byte = blob[i]
            i += 1
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        values.append(value)
    return values[1] if len(values) == 2 else None
