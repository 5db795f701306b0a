"""Search and analytics support on PostgreSQL (issue 15): the SQLite summaries, kept by PL/pgSQL, and a text index.

SQLite has had them since 0001/0006 (``services/search/support.py``); on PostgreSQL every total was a sum over
the payments and free text an ``ILIKE`` over eight columns of every row. Here, on PostgreSQL only:

- ``payment_search_daily``, ``payment_search_amounts`` and ``payment_search_hours``: the same tables, keys and
  meaning as on SQLite (Kuwait day ``YYYY-MM-DD``, exact amount, UTC hour ``YYYY-MM-DD HH``; a missing method or
  family is ``''``), kept exact by one row trigger on ``payment`` and filled from the rows already there.
- ``ix_payment_search_text``: a ``pg_trgm`` GIN index over the eight text columns joined by a space. Search
  compares each token with ``ILIKE '%token%'`` against that same expression: a token has no whitespace, so it
  cannot match across two columns, and the result is the one of the former per-column ``ILIKE`` (substrings,
  any case), now answered from the index.

- ``ix_payment_created_order``, ``ix_payment_amount_order``, ``ix_payment_status_order``: the three sort orders of
  the transaction list (``services.search.query.ORDER_KEYS``, NULLs first ascending as on SQLite), so a page is a
  walk along an index (forwards, or backwards for newest first) instead of a sort of every matching payment.
- ``ix_payment_email_lower``: the e-mail filter compares ``lower(customer_email)`` (SQLite has it since 0001).

SQLite is untouched (its own tables and FTS5 index come from 0001 and 0006).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 15:40:00
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

log = logging.getLogger("alembic.runtime.migration")

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_COLUMNS = ("customer_name", "customer_email", "description", "order_id", "track_id", "payment_id",
                "reference", "upay_order_id")
#: The indexed text; ``services.search.support.PG_TEXT`` must stay this exact expression (the planner matches it).
TEXT_EXPRESSION = "(" + " || ' ' || ".join(f"coalesce({c}, '')" for c in TEXT_COLUMNS) + ")"
TEXT_INDEX = "ix_payment_search_text"
EMAIL_INDEX = "ix_payment_email_lower"
#: Index name → the columns of one sort order (services.search.query.ORDER_KEYS), id last.
ORDER_INDEXES = {
    "ix_payment_created_order": ("created_at", "status", "method_family", "method", "amount_fils", "id"),
    "ix_payment_amount_order": ("amount_fils", "created_at", "status", "method_family", "method", "id"),
    "ix_payment_status_order": ("status", "created_at", "method_family", "method", "amount_fils", "id"),
}
_DAY = "to_char(({row}.created_at AT TIME ZONE 'UTC') + interval '3 hours', 'YYYY-MM-DD')"  # Kuwait: UTC+3
_HOUR = "to_char({row}.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"
_TABLES = (
    "CREATE TABLE IF NOT EXISTS payment_search_daily (day TEXT NOT NULL, status TEXT NOT NULL, method TEXT NOT NULL, "
    "family TEXT NOT NULL, n BIGINT NOT NULL, amount BIGINT NOT NULL, PRIMARY KEY (day, status, method, family))",
    "CREATE TABLE IF NOT EXISTS payment_search_amounts (amount BIGINT NOT NULL, status TEXT NOT NULL, "
    "method TEXT NOT NULL, family TEXT NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (amount, status, method, family))",
    "CREATE TABLE IF NOT EXISTS payment_search_hours (hour TEXT NOT NULL, method TEXT NOT NULL, family TEXT NOT NULL, "
    "n BIGINT NOT NULL, PRIMARY KEY (hour, method, family))",
)


def _change(row: str, sign: str) -> str:
    """The statements that add (``sign`` '') or take away ('-') payment ``row`` in the three summaries."""
    method, family = f"coalesce({row}.method, '')", f"coalesce({row}.method_family, '')"
    hours = (
        f"IF {row}.status = 'paid' THEN INSERT INTO payment_search_hours (hour, method, family, n) VALUES "
        f"({_HOUR.format(row=row)}, {method}, {family}, {sign}1) ON CONFLICT (hour, method, family) "
        "DO UPDATE SET n = payment_search_hours.n + excluded.n; END IF;"
    )
    return (
        "INSERT INTO payment_search_daily (day, status, method, family, n, amount) VALUES "
        f"({_DAY.format(row=row)}, {row}.status, {method}, {family}, {sign}1, {sign}{row}.amount_fils) "
        "ON CONFLICT (day, status, method, family) DO UPDATE SET n = payment_search_daily.n + excluded.n, "
        "amount = payment_search_daily.amount + excluded.amount; "
        "INSERT INTO payment_search_amounts (amount, status, method, family, n) VALUES "
        f"({row}.amount_fils, {row}.status, {method}, {family}, {sign}1) "
        "ON CONFLICT (amount, status, method, family) DO UPDATE SET n = payment_search_amounts.n + excluded.n; "
        f"{hours}"
    )


_WATCHED = "created_at, status, method, method_family, amount_fils"
_FUNCTION = (
    "CREATE OR REPLACE FUNCTION payment_search_sync() RETURNS trigger AS $$ BEGIN "
    f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {_change('OLD', '-')} END IF; "
    f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {_change('NEW', '')} END IF; "
    "RETURN NULL; END $$ LANGUAGE plpgsql"
)
_TRIGGER = (f"CREATE TRIGGER payment_search_sync AFTER INSERT OR DELETE OR UPDATE OF {_WATCHED} ON payment "
            "FOR EACH ROW EXECUTE FUNCTION payment_search_sync()")
_FILL = (
    "INSERT INTO payment_search_daily (day, status, method, family, n, amount) SELECT "
    f"{_DAY.format(row='payment')}, status, coalesce(method, ''), coalesce(method_family, ''), count(*), "
    "sum(amount_fils) FROM payment GROUP BY 1, 2, 3, 4",
    "INSERT INTO payment_search_amounts (amount, status, method, family, n) SELECT amount_fils, status, "
    "coalesce(method, ''), coalesce(method_family, ''), count(*) FROM payment GROUP BY 1, 2, 3, 4",
    f"INSERT INTO payment_search_hours (hour, method, family, n) SELECT {_HOUR.format(row='payment')}, "
    "coalesce(method, ''), coalesce(method_family, ''), count(*) FROM payment WHERE status = 'paid' GROUP BY 1, 2, 3",
)


def _trigram_extension() -> bool:
    """``CREATE EXTENSION pg_trgm`` (trusted since PostgreSQL 13: the database owner may), in a savepoint so that a
    user without the right leaves the migration going; whether the extension is there."""
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError:
        return False
    return True


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    if _trigram_extension():
        op.execute(f"CREATE INDEX IF NOT EXISTS {TEXT_INDEX} ON payment USING gin ({TEXT_EXPRESSION} gin_trgm_ops)")
    else:  # search gives the same answers without it, reading every payment for free text
        log.warning("pg_trgm is not available to this database user: free-text search runs without its index; "
                    "run CREATE EXTENSION pg_trgm as a superuser, then migration 0011 again")
    for name, columns in ORDER_INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON payment ({', '.join(f'{c} NULLS FIRST' for c in columns)})")
    op.execute(f"CREATE INDEX IF NOT EXISTS {EMAIL_INDEX} ON payment (lower(customer_email))")
    op.execute("LOCK TABLE payment IN SHARE ROW EXCLUSIVE MODE")  # no payment changes between the fill and trigger
    op.execute("DROP TRIGGER IF EXISTS payment_search_sync ON payment")
    for ddl in _TABLES:
        op.execute(ddl)
    for table in ("payment_search_daily", "payment_search_amounts", "payment_search_hours"):
        op.execute(f"DELETE FROM {table}")
    for fill in _FILL:
        op.execute(fill)
    op.execute(_FUNCTION)
    op.execute(_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS payment_search_sync ON payment")
    op.execute("DROP FUNCTION IF EXISTS payment_search_sync()")
    for table in ("payment_search_daily", "payment_search_amounts", "payment_search_hours"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
    for name in (TEXT_INDEX, EMAIL_INDEX, *ORDER_INDEXES):
        op.execute(f"DROP INDEX IF EXISTS {name}")
