"""Baseline: the schema of release 268e121, the last one built without migrations.

Written out on purpose (not ``metadata.create_all``), so later model changes never alter the baseline; the
search support on SQLite (summary tables, FTS5 index, triggers, covering indexes) is copied from release
268e121's ``services/search/support.py`` and frozen here. PostgreSQL gets the tables and model indexes only,
as that release did (search there is plain SQL).

Every object is created only if it is missing: a database written by release 268e121 (no ``alembic_version``)
is adopted as this revision with its rows untouched, and any summary or text index it never built (a process
that never searched) is created here and filled from ``payment`` in the same transaction.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tables() -> dict[str, Callable[[], object]]:
    """Table name → its creation, in dependency order."""
    return {
        "auditentry": lambda: op.create_table(
            "auditentry",
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('seq', sa.Integer(), nullable=False),
            sa.Column('at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('actor', sa.String(length=255), nullable=False),
            sa.Column('action', sa.String(length=64), nullable=False),
            sa.Column('target', sa.String(length=255), nullable=True),
            sa.Column('before', sa.Text(), nullable=True),
            sa.Column('after', sa.Text(), nullable=True),
            sa.Column('prev_hash', sa.String(length=64), nullable=False),
            sa.Column('hash', sa.String(length=64), nullable=False),
            sa.PrimaryKeyConstraint('id'),
            sa.UniqueConstraint('seq', name='uq_audit_seq')
        ),
        "payment": lambda: op.create_table(
            "payment",
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('order_id', sa.String(length=50), nullable=False),
            sa.Column('track_id', sa.String(length=64), nullable=True),
            sa.Column('upay_order_id', sa.String(length=255), nullable=True),
            sa.Column('payment_id', sa.String(length=64), nullable=True),
            sa.Column('invoice_id', sa.String(length=64), nullable=True),
            sa.Column('session_id', sa.String(length=64), nullable=True),
            sa.Column('reference', sa.String(length=255), nullable=True),
            sa.Column('amount_fils', sa.Integer(), nullable=False),
            sa.Column('currency', sa.String(length=3), nullable=False),
            sa.Column('status', sa.String(length=16), nullable=False),
            sa.Column('result', sa.String(length=32), nullable=True),
            sa.Column('method', sa.String(length=16), nullable=True),
            sa.Column('method_family', sa.String(length=8), nullable=True),
            sa.Column('customer_name', sa.String(length=255), nullable=True),
            sa.Column('customer_phone', sa.String(length=20), nullable=True),
            sa.Column('customer_email', sa.String(length=255), nullable=True),
            sa.Column('description', sa.String(length=500), nullable=True),
            sa.Column('language', sa.String(length=2), nullable=False),
            sa.Column('link_url', sa.String(length=1000), nullable=True),
            sa.Column('link_state', sa.String(length=16), nullable=True),
            sa.Column('notification_type', sa.String(length=5), nullable=True),
            sa.Column('source', sa.String(length=16), nullable=False),
            sa.Column('created_by', sa.String(length=255), nullable=True),
            sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('local_day', sa.String(length=10), nullable=False),
            sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
            sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
            sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
            sa.Column('refunded_fils', sa.Integer(), nullable=False),
            sa.Column('webhook_received', sa.Boolean(), nullable=False),
            sa.Column('raw', sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint('id'),
            sa.UniqueConstraint('order_id'),
            sa.UniqueConstraint('track_id')
        ),
        "staff": lambda: op.create_table(
            "staff",
            sa.Column('email', sa.String(length=255), nullable=False),
            sa.Column('name', sa.String(length=255), nullable=True),
            sa.Column('role', sa.String(length=16), nullable=False),
            sa.Column('active', sa.Boolean(), nullable=False),
            sa.Column('added_by', sa.String(length=255), nullable=True),
            sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint('email')
        ),
        "syncstate": lambda: op.create_table(
            "syncstate",
            sa.Column('key', sa.String(length=64), nullable=False),
            sa.Column('value', sa.String(length=1000), nullable=False),
            sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint('key')
        ),
        "webhookevent": lambda: op.create_table(
            "webhookevent",
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('source', sa.String(length=16), nullable=False),
            sa.Column('content_type', sa.String(length=128), nullable=True),
            sa.Column('body', sa.Text(), nullable=False),
            sa.Column('dedupe_key', sa.String(length=64), nullable=False),
            sa.Column('track_id', sa.String(length=64), nullable=True),
            sa.Column('order_id', sa.String(length=64), nullable=True),
            sa.Column('result', sa.String(length=32), nullable=True),
            sa.Column('payment_pk', sa.Integer(), nullable=True),
            sa.Column('duplicate', sa.Boolean(), nullable=False),
            sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
            sa.Column('error', sa.String(length=1000), nullable=True),
            sa.PrimaryKeyConstraint('id')
        ),
        "paymentevent": lambda: op.create_table(
            "paymentevent",
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('payment_pk', sa.Integer(), nullable=False),
            sa.Column('at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('kind', sa.String(length=32), nullable=False),
            sa.Column('actor', sa.String(length=255), nullable=True),
            sa.Column('detail', sa.Text(), nullable=True),
            sa.ForeignKeyConstraint(['payment_pk'], ['payment.id']),
            sa.PrimaryKeyConstraint('id')
        ),
        "refund": lambda: op.create_table(
            "refund",
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('payment_pk', sa.Integer(), nullable=False),
            sa.Column('idempotency_key', sa.String(length=64), nullable=False),
            sa.Column('amount_fils', sa.Integer(), nullable=False),
            sa.Column('currency', sa.String(length=3), nullable=False),
            sa.Column('reason', sa.String(length=32), nullable=False),
            sa.Column('note', sa.String(length=500), nullable=True),
            sa.Column('state', sa.String(length=20), nullable=False),
            sa.Column('requested_by', sa.String(length=255), nullable=False),
            sa.Column('approved_by', sa.String(length=255), nullable=True),
            sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
            sa.Column('gateway_order_id', sa.String(length=255), nullable=True),
            sa.Column('gateway_refund_order_id', sa.String(length=64), nullable=True),
            sa.Column('gateway_refund_arn', sa.String(length=64), nullable=True),
            sa.Column('error', sa.String(length=1000), nullable=True),
            sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('local_day', sa.String(length=10), nullable=False),
            sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
            sa.Column('refunded_at', sa.DateTime(timezone=True), nullable=True),
            sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('raw', sa.Text(), nullable=True),
            sa.ForeignKeyConstraint(['payment_pk'], ['payment.id']),
            sa.PrimaryKeyConstraint('id'),
            sa.UniqueConstraint('idempotency_key')
        ),
    }


#: (table, index name, columns) for the model indexes.
INDEXES: list[tuple[str, str, list[str]]] = [
    ("auditentry", "ix_audit_action", ['action']),
    ("auditentry", "ix_audit_actor", ['actor']),
    ("auditentry", "ix_audit_at", ['at']),
    ("payment", "ix_payment_amount", ['amount_fils']),
    ("payment", "ix_payment_analytics", ['local_day', 'method_family', 'method', 'status', 'amount_fils']),
    ("payment", "ix_payment_created", ['created_at']),
    ("payment", "ix_payment_creator_created", ['created_by', 'created_at']),
    ("payment", "ix_payment_email", ['customer_email']),
    ("payment", "ix_payment_family_created", ['method_family', 'created_at']),
    ("payment", "ix_payment_invoice", ['invoice_id']),
    ("payment", "ix_payment_method_created", ['method', 'created_at']),
    ("payment", "ix_payment_payment_id", ['payment_id']),
    ("payment", "ix_payment_phone", ['customer_phone']),
    ("payment", "ix_payment_reference", ['reference']),
    ("payment", "ix_payment_status_created", ['status', 'created_at']),
    ("payment", "ix_payment_upay_order", ['upay_order_id']),
    ("webhookevent", "ix_webhook_dedupe", ['dedupe_key']),
    ("webhookevent", "ix_webhook_order", ['order_id']),
    ("webhookevent", "ix_webhook_received", ['received_at']),
    ("webhookevent", "ix_webhook_track", ['track_id']),
    ("paymentevent", "ix_payment_event_payment", ['payment_pk', 'at']),
    ("refund", "ix_refund_created", ['created_at']),
    ("refund", "ix_refund_day", ['local_day']),
    ("refund", "ix_refund_payment", ['payment_pk']),
    ("refund", "ix_refund_state", ['state']),
]

# --- Search support on SQLite (release 268e121's services/search/support.py, frozen) ---------------------------
_FTS_COLUMNS = ("customer_name", "customer_email", "description", "order_id", "track_id", "payment_id",
                "reference", "upay_order_id")
# Asia/Kuwait is UTC+3 all year; the fraction is cut first because SQLite's date() rounds to milliseconds.
_KUWAIT_DAY = "date(substr({row}.created_at, 1, 19), '+3 hours')"


def _summary_sql(row: str, sign: str) -> str:
    return (
        "INSERT INTO payment_search_daily (day, status, method, family, n, amount) VALUES "
        f"({_KUWAIT_DAY.format(row=row)}, {row}.status, coalesce({row}.method, ''), "
        f"coalesce({row}.method_family, ''), {sign}1, {sign}{row}.amount_fils) "
        "ON CONFLICT (day, status, method, family) DO UPDATE SET n = n + excluded.n, "
        "amount = amount + excluded.amount;"
    )


def _amounts_sql(row: str, sign: str) -> str:
    return (
        f"INSERT INTO payment_search_amounts (amount, status, method, family, n) VALUES ({row}.amount_fils, "
        f"{row}.status, coalesce({row}.method, ''), coalesce({row}.method_family, ''), {sign}1) "
        "ON CONFLICT (amount, status, method, family) DO UPDATE SET n = n + excluded.n;"
    )


def _day_ids_sql() -> str:
    return (
        f"INSERT INTO payment_search_day_ids (day, lo, hi) VALUES ({_KUWAIT_DAY.format(row='new')}, new.id, new.id) "
        "ON CONFLICT (day) DO UPDATE SET lo = min(lo, excluded.lo), hi = max(hi, excluded.hi);"
    )


def _fts_sql(row: str, delete: bool) -> str:
    cols = ", ".join(_FTS_COLUMNS)
    values = ", ".join(f"{row}.{c}" for c in _FTS_COLUMNS)
    if delete:
        return f"INSERT INTO payment_fts (payment_fts, rowid, {cols}) VALUES ('delete', {row}.id, {values});"
    return f"INSERT INTO payment_fts (rowid, {cols}) VALUES ({row}.id, {values});"


def _search_ddl() -> list[tuple[str, str]]:
    """(object name, CREATE statement) for the SQLite search support, in creation order."""
    summary_cols = "status, method, method_family, amount_fils, created_at"
    return [
        ("payment_search_daily", "CREATE TABLE payment_search_daily (day TEXT NOT NULL, status TEXT NOT NULL, "
                                 "method TEXT NOT NULL, family TEXT NOT NULL, n INTEGER NOT NULL, "
                                 "amount INTEGER NOT NULL, PRIMARY KEY (day, status, method, family)) WITHOUT ROWID"),
        ("payment_fts", f"CREATE VIRTUAL TABLE payment_fts USING fts5({', '.join(_FTS_COLUMNS)}, content='payment', "
                        "content_rowid='id', tokenize='unicode61 remove_diacritics 2', "
                        "prefix='2 3 4 5 6 7 8', detail=none)"),
        ("payment_search_ai", "CREATE TRIGGER payment_search_ai AFTER INSERT ON payment BEGIN "
                              f"{_summary_sql('new', '')} {_fts_sql('new', False)} END"),
        ("payment_search_ad", "CREATE TRIGGER payment_search_ad AFTER DELETE ON payment BEGIN "
                              f"{_summary_sql('old', '-')} {_fts_sql('old', True)} END"),
        ("payment_search_au_sum", f"CREATE TRIGGER payment_search_au_sum AFTER UPDATE OF {summary_cols} ON payment "
                                  f"BEGIN {_summary_sql('old', '-')} {_summary_sql('new', '')} END"),
        ("payment_search_au_fts", f"CREATE TRIGGER payment_search_au_fts AFTER UPDATE OF {', '.join(_FTS_COLUMNS)} "
                                  f"ON payment BEGIN {_fts_sql('old', True)} {_fts_sql('new', False)} END"),
        ("payment_search_amounts", "CREATE TABLE payment_search_amounts (amount INTEGER NOT NULL, "
                                   "status TEXT NOT NULL, method TEXT NOT NULL, family TEXT NOT NULL, "
                                   "n INTEGER NOT NULL, PRIMARY KEY (amount, status, method, family)) WITHOUT ROWID"),
        ("payment_search_amounts_ai", "CREATE TRIGGER payment_search_amounts_ai AFTER INSERT ON payment BEGIN "
                                      f"{_amounts_sql('new', '')} END"),
        ("payment_search_amounts_ad", "CREATE TRIGGER payment_search_amounts_ad AFTER DELETE ON payment BEGIN "
                                      f"{_amounts_sql('old', '-')} END"),
        ("payment_search_amounts_au", "CREATE TRIGGER payment_search_amounts_au AFTER UPDATE OF status, method, "
                                      "method_family, amount_fils ON payment BEGIN "
                                      f"{_amounts_sql('old', '-')} {_amounts_sql('new', '')} END"),
        ("payment_search_day_ids", "CREATE TABLE payment_search_day_ids (day TEXT NOT NULL PRIMARY KEY, "
                                   "lo INTEGER NOT NULL, hi INTEGER NOT NULL) WITHOUT ROWID"),
        ("payment_search_day_ids_ai", "CREATE TRIGGER payment_search_day_ids_ai AFTER INSERT ON payment BEGIN "
                                      f"{_day_ids_sql()} END"),
        ("payment_search_day_ids_au", "CREATE TRIGGER payment_search_day_ids_au AFTER UPDATE OF created_at ON "
                                      f"payment BEGIN {_day_ids_sql()} END"),
        # Covering indexes: one index answers "which rows, in which order, how much" without the table.
        ("ix_payment_created_cover", "CREATE INDEX ix_payment_created_cover ON payment "
                                     "(created_at, status, method_family, method, amount_fils)"),
        ("ix_payment_amount_cover", "CREATE INDEX ix_payment_amount_cover ON payment "
                                    "(amount_fils, created_at, status, method_family, method)"),
        ("ix_payment_status_cover", "CREATE INDEX ix_payment_status_cover ON payment "
                                    "(status, created_at, method_family, method, amount_fils)"),
        ("ix_payment_email_lower", "CREATE INDEX ix_payment_email_lower ON payment (lower(customer_email))"),
        ("ix_webhook_payment", "CREATE INDEX ix_webhook_payment ON webhookevent (payment_pk, received_at)"),
    ]


def _populate(created: set[str]) -> None:
    """Fill derived tables created just now from the payments already there (adopted databases)."""
    day = _KUWAIT_DAY.format(row="payment")
    if "payment_search_daily" in created:
        op.execute(f"INSERT INTO payment_search_daily (day, status, method, family, n, amount) SELECT {day}, "
                   "status, coalesce(method, ''), coalesce(method_family, ''), count(*), sum(amount_fils) "
                   "FROM payment GROUP BY 1, 2, 3, 4")
    if "payment_search_amounts" in created:
        op.execute("INSERT INTO payment_search_amounts (amount, status, method, family, n) SELECT amount_fils, "
                   "status, coalesce(method, ''), coalesce(method_family, ''), count(*) FROM payment "
                   "GROUP BY 1, 2, 3, 4")
    if "payment_search_day_ids" in created:
        op.execute(f"INSERT INTO payment_search_day_ids (day, lo, hi) SELECT {day}, min(id), max(id) "
                   "FROM payment GROUP BY 1")
    if "payment_fts" in created:
        op.execute("INSERT INTO payment_fts (payment_fts) VALUES ('rebuild')")


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    tables = set(inspector.get_table_names())
    for name, create in _tables().items():
        if name not in tables:
            create()
    existing_indexes = {ix["name"] for t in tables for ix in inspector.get_indexes(t)}
    for table, name, columns in INDEXES:
        if name not in existing_indexes:
            op.create_index(name, table, columns, unique=False)
    if bind.dialect.name != "sqlite":
        return
    objects = {row[0] for row in bind.exec_driver_sql("SELECT name FROM sqlite_master")}
    created = set()
    for name, ddl in _search_ddl():
        if name not in objects:
            op.execute(ddl)
            created.add(name)
    _populate(created)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name, ddl in reversed(_search_ddl()):
            kind = ddl.split()[1] if not ddl.startswith("CREATE VIRTUAL") else "TABLE"
            op.execute(f"DROP {kind} IF EXISTS {name}")
    for name in reversed(list(_tables())):
        op.drop_table(name)
