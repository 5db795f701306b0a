"""Customer name search by index (issue 16): ``customer_name`` with folded name words, kept by triggers on
``customer_summary``, and a text index over it — FTS5 on SQLite, a GIN index on ``to_tsvector('simple', words)``
on PostgreSQL — so the search box finds "Nou…" or "سار…" among a million customers without a scan; and, on
PostgreSQL, an index giving customers newest purchase first with NULLs last (the list's and the search's order).

``words`` is the customer's latest name with the Arabic folding of ``services/customers/names.py`` (alef forms,
alef maqsura, ta marbuta, hamza seats, no harakat or tatweel), written here as SQL ``replace`` calls; the text
indexes fold the case themselves. ``tests/unit/test_customer_search.py`` checks this SQL against the Python.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The Arabic folding as of this migration (a copy: a shipped migration never changes with the code).
_FOLD = [("\u0623", "\u0627"), ("\u0625", "\u0627"), ("\u0622", "\u0627"), ("\u0671", "\u0627"),
         ("\u0649", "\u064a"), ("\u0629", "\u0647"), ("\u0624", "\u0648"), ("\u0626", "\u064a"),
         *[(chr(c), "") for c in range(0x064B, 0x0653)], ("\u0670", ""), ("\u0640", "")]


def fold_sql(expr: str) -> str:
    """``expr`` with the Arabic folding, as nested ``replace`` calls (SQLite and PostgreSQL alike)."""
    for old, new in _FOLD:
        expr = f"replace({expr}, '{old}', '{new}')"
    return expr


_SQLITE = [
    "CREATE TABLE customer_name (id INTEGER PRIMARY KEY, key VARCHAR(270) NOT NULL UNIQUE, words TEXT NOT NULL)",
    "CREATE VIRTUAL TABLE customer_name_fts USING fts5(words, content='customer_name', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 0', prefix='1 2 3')",
    "CREATE TRIGGER customer_name_fts_ai AFTER INSERT ON customer_name BEGIN "
    "INSERT INTO customer_name_fts (rowid, words) VALUES (new.id, new.words); END",
    "CREATE TRIGGER customer_name_fts_ad AFTER DELETE ON customer_name BEGIN "
    "INSERT INTO customer_name_fts (customer_name_fts, rowid, words) VALUES ('delete', old.id, old.words); END",
    "CREATE TRIGGER customer_name_fts_au AFTER UPDATE OF words ON customer_name BEGIN "
    "INSERT INTO customer_name_fts (customer_name_fts, rowid, words) VALUES ('delete', old.id, old.words); "
    "INSERT INTO customer_name_fts (rowid, words) VALUES (new.id, new.words); END",
    "CREATE TRIGGER customer_name_ai AFTER INSERT ON customer_summary WHEN new.name IS NOT NULL BEGIN "
    f"INSERT INTO customer_name (key, words) VALUES (new.key, {fold_sql('new.name')}) "
    "ON CONFLICT (key) DO UPDATE SET words = excluded.words; END",
    "CREATE TRIGGER customer_name_au AFTER UPDATE OF name ON customer_summary WHEN new.name IS NOT old.name BEGIN "
    "DELETE FROM customer_name WHERE key = old.key AND new.name IS NULL; "
    f"INSERT INTO customer_name (key, words) SELECT new.key, {fold_sql('new.name')} WHERE new.name IS NOT NULL "
    "ON CONFLICT (key) DO UPDATE SET words = excluded.words; END",
    "CREATE TRIGGER customer_name_ad AFTER DELETE ON customer_summary BEGIN "
    "DELETE FROM customer_name WHERE key = old.key; END",
]
_SQLITE_DROP = ["DROP TRIGGER IF EXISTS customer_name_ai", "DROP TRIGGER IF EXISTS customer_name_au",
                "DROP TRIGGER IF EXISTS customer_name_ad", "DROP TABLE IF EXISTS customer_name_fts",
                "DROP TABLE IF EXISTS customer_name"]
_POSTGRES = [
    "CREATE TABLE customer_name (id BIGSERIAL PRIMARY KEY, key VARCHAR(270) NOT NULL UNIQUE, words TEXT NOT NULL)",
    "CREATE INDEX ix_customer_name_words ON customer_name USING gin (to_tsvector('simple', words))",
    # The customers list and the name search read newest purchase first with customers never paid last; PostgreSQL
    # sorts NULL high, so the (last_paid_at, key) index cannot give that order backwards: this one does.
    "CREATE INDEX ix_customer_last_paid_desc ON customer_summary (last_paid_at DESC NULLS LAST, key DESC)",
    "CREATE OR REPLACE FUNCTION customer_name_sync() RETURNS trigger AS $$ BEGIN "
    "IF TG_OP = 'DELETE' THEN DELETE FROM customer_name WHERE key = OLD.key; RETURN NULL; END IF; "
    "IF TG_OP = 'UPDATE' AND NEW.name IS NOT DISTINCT FROM OLD.name THEN RETURN NULL; END IF; "
    "IF NEW.name IS NULL THEN DELETE FROM customer_name WHERE key = NEW.key; "
    f"ELSE INSERT INTO customer_name (key, words) VALUES (NEW.key, {fold_sql('NEW.name')}) "
    "ON CONFLICT (key) DO UPDATE SET words = excluded.words; END IF; "
    "RETURN NULL; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER customer_name_sync AFTER INSERT OR DELETE OR UPDATE OF name ON customer_summary "
    "FOR EACH ROW EXECUTE FUNCTION customer_name_sync()",
]
_POSTGRES_DROP = ["DROP INDEX IF EXISTS ix_customer_last_paid_desc",
                  "DROP TRIGGER IF EXISTS customer_name_sync ON customer_summary",
                  "DROP FUNCTION IF EXISTS customer_name_sync()", "DROP TABLE IF EXISTS customer_name"]
_BACKFILL = (f"INSERT INTO customer_name (key, words) SELECT key, {fold_sql('name')} FROM customer_summary "
             "WHERE name IS NOT NULL")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if "customer_name" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    if dialect == "sqlite":
        for ddl in _SQLITE:
            op.execute(ddl)
    elif dialect == "postgresql":
        for ddl in _POSTGRES:
            op.execute(ddl)
    else:
        return
    op.execute(_BACKFILL)  # the FTS triggers on customer_name index each backfilled row


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for ddl in _SQLITE_DROP if dialect == "sqlite" else _POSTGRES_DROP if dialect == "postgresql" else []:
        op.execute(ddl)
