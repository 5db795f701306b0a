"""Customers and saved cards (issue 16): the customer summary kept by triggers, card-charge intents, consents.

``customer_summary`` has one row per customer (normalised mobile, else ``email:`` + lower-case e-mail) and is kept
exact by triggers on ``payment`` (SQLite triggers; a PL/pgSQL trigger function on PostgreSQL), so the customers
list sorts by last purchase, lifetime value or count by reading an index instead of grouping a million payments.
Known limit: when a paid payment moves to another customer (its phone is corrected), the old customer's first/last
purchase dates are not recomputed (counts and amounts are).

Revision ID: 0003
Revises: 0006
Create Date: 2026-11-27 12:52:21.213238
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_COLS = ("key, name, phone, email, n_payments, n_paid, captured_fils, refunded_fils, net_fils, first_paid_at, "
         "last_paid_at")


def _key(r: str) -> str:
    return f"COALESCE({r}.customer_phone, 'email:' || lower({r}.customer_email))"


def _paid(r: str) -> str:
    return f"(CASE WHEN {r}.status = 'paid' THEN 1 ELSE 0 END)"


def _cap(r: str) -> str:
    return f"(CASE WHEN {r}.status = 'paid' THEN {r}.amount_fils ELSE 0 END)"


def _add_sql(r: str) -> str:
    """Add row ``r`` (``new``/``NEW``) to its customer's summary row, creating it on first sight."""
    when = f"CASE WHEN {r}.status = 'paid' THEN {r}.created_at END"
    return (
        f"INSERT INTO customer_summary ({_COLS}) SELECT {_key(r)}, {r}.customer_name, {r}.customer_phone, "
        f"lower({r}.customer_email), 1, {_paid(r)}, {_cap(r)}, {r}.refunded_fils, {_cap(r)} - {r}.refunded_fils, "
        f"{when}, {when} WHERE {_key(r)} IS NOT NULL "
        "ON CONFLICT (key) DO UPDATE SET name = COALESCE(excluded.name, customer_summary.name), "
        "phone = COALESCE(excluded.phone, customer_summary.phone), "
        "email = COALESCE(excluded.email, customer_summary.email), "
        "n_payments = customer_summary.n_payments + 1, n_paid = customer_summary.n_paid + excluded.n_paid, "
        "captured_fils = customer_summary.captured_fils + excluded.captured_fils, "
        "refunded_fils = customer_summary.refunded_fils + excluded.refunded_fils, "
        "net_fils = customer_summary.net_fils + excluded.net_fils, "
        "first_paid_at = CASE WHEN excluded.first_paid_at IS NULL THEN customer_summary.first_paid_at "
        "WHEN customer_summary.first_paid_at IS NULL OR excluded.first_paid_at < customer_summary.first_paid_at "
        "THEN excluded.first_paid_at ELSE customer_summary.first_paid_at END, "
        "last_paid_at = CASE WHEN excluded.last_paid_at IS NULL THEN customer_summary.last_paid_at "
        "WHEN customer_summary.last_paid_at IS NULL OR excluded.last_paid_at > customer_summary.last_paid_at "
        "THEN excluded.last_paid_at ELSE customer_summary.last_paid_at END;"
    )


def _sub_sql(r: str) -> str:
    """Take row ``r`` (``old``/``OLD``) out of its customer's counts and amounts."""
    return (
        f"UPDATE customer_summary SET n_payments = n_payments - 1, n_paid = n_paid - {_paid(r)}, "
        f"captured_fils = captured_fils - {_cap(r)}, refunded_fils = refunded_fils - {r}.refunded_fils, "
        f"net_fils = net_fils - ({_cap(r)} - {r}.refunded_fils) WHERE key = {_key(r)}; "
        # a customer left without payments goes, so count(*) of the table is the number of customers
        f"DELETE FROM customer_summary WHERE key = {_key(r)} AND n_payments <= 0;"
    )


_WATCHED = "status, amount_fils, refunded_fils, customer_phone, customer_email, customer_name"
_BACKFILL = (
    f"INSERT INTO customer_summary ({_COLS}) SELECT k, MAX(customer_name), MAX(customer_phone), "
    "MAX(lower(customer_email)), COUNT(*), SUM(paid), SUM(cap), SUM(refunded_fils), SUM(cap) - SUM(refunded_fils), "
    "MIN(CASE WHEN paid = 1 THEN created_at END), MAX(CASE WHEN paid = 1 THEN created_at END) FROM "
    f"(SELECT {_key('p')} AS k, p.customer_name, p.customer_phone, p.customer_email, p.refunded_fils, "
    f"p.created_at, {_paid('p')} AS paid, {_cap('p')} AS cap FROM payment p) s WHERE k IS NOT NULL GROUP BY k"
)
_SQLITE_TRIGGERS = {
    "customer_summary_ai": f"CREATE TRIGGER customer_summary_ai AFTER INSERT ON payment BEGIN {_add_sql('new')} END",
    "customer_summary_ad": f"CREATE TRIGGER customer_summary_ad AFTER DELETE ON payment BEGIN {_sub_sql('old')} END",
    "customer_summary_au": (f"CREATE TRIGGER customer_summary_au AFTER UPDATE OF {_WATCHED} ON payment BEGIN "
                            f"{_sub_sql('old')} {_add_sql('new')} END"),
}
_PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION customer_summary_sync() RETURNS trigger AS $$ BEGIN "
    f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {_sub_sql('OLD')} END IF; "
    f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {_add_sql('NEW')} END IF; "
    "RETURN NULL; END $$ LANGUAGE plpgsql"
)
_PG_TRIGGER = (f"CREATE TRIGGER customer_summary_sync AFTER INSERT OR DELETE OR UPDATE OF {_WATCHED} ON payment "
               "FOR EACH ROW EXECUTE FUNCTION customer_summary_sync()")


def _create_triggers() -> None:
    bind = op.get_bind()
    _drop_triggers()
    op.execute("DELETE FROM customer_summary")
    op.execute(_BACKFILL)
    if bind.dialect.name == "sqlite":
        for ddl in _SQLITE_TRIGGERS.values():
            op.execute(ddl)
    elif bind.dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)


def _drop_triggers() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS customer_summary_sync ON payment")
        op.execute("DROP FUNCTION IF EXISTS customer_summary_sync()")


def upgrade() -> None:
    # Only what is missing, like 0002: a database adopted at 0001 may come from a build that ran create_all.
    have = set(sa.inspect(op.get_bind()).get_table_names())
    if "card_charge" not in have:
        _card_charge()
    if "customer_consent" not in have:
        _customer_consent()
    if "customer_summary" not in have:
        _customer_summary()
    _create_triggers()


def _card_charge() -> None:
    op.create_table('card_charge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=50), nullable=False),
    sa.Column('customer_key', sa.String(length=270), nullable=False),
    sa.Column('card_token', sa.String(length=64), nullable=False),
    sa.Column('card_label', sa.String(length=64), nullable=True),
    sa.Column('amount_fils', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('requested_by', sa.String(length=255), nullable=False),
    sa.Column('approved_by', sa.String(length=255), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('track_id', sa.String(length=64), nullable=True),
    sa.Column('payment_pk', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raw', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key'),
    sa.UniqueConstraint('order_id')
    )
    with op.batch_alter_table('card_charge', schema=None) as batch_op:
        batch_op.create_index('ix_card_charge_customer', ['customer_key', 'created_at'], unique=False)
        batch_op.create_index('ix_card_charge_state', ['state'], unique=False)


def _customer_consent() -> None:
    op.create_table('customer_consent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_key', sa.String(length=270), nullable=False),
    sa.Column('card_token', sa.String(length=64), nullable=False),
    sa.Column('agreed_by', sa.String(length=255), nullable=False),
    sa.Column('agreed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('recorded_by', sa.String(length=255), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('customer_consent', schema=None) as batch_op:
        batch_op.create_index('ix_consent_customer', ['customer_key', 'card_token'], unique=False)


def _customer_summary() -> None:
    op.create_table('customer_summary',
    sa.Column('key', sa.String(length=270), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('n_payments', sa.Integer(), nullable=False),
    sa.Column('n_paid', sa.Integer(), nullable=False),
    sa.Column('captured_fils', sa.Integer(), nullable=False),
    sa.Column('refunded_fils', sa.Integer(), nullable=False),
    sa.Column('net_fils', sa.Integer(), nullable=False),
    sa.Column('first_paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('customer_summary', schema=None) as batch_op:
        batch_op.create_index('ix_customer_last_paid', ['last_paid_at', 'key'], unique=False)
        batch_op.create_index('ix_customer_net', ['net_fils', 'key'], unique=False)
        batch_op.create_index('ix_customer_paid_count', ['n_paid', 'key'], unique=False)


def downgrade() -> None:
    _drop_triggers()
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('customer_summary', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_paid_count')
        batch_op.drop_index('ix_customer_net')
        batch_op.drop_index('ix_customer_last_paid')

    op.drop_table('customer_summary')
    with op.batch_alter_table('customer_consent', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_customer')

    op.drop_table('customer_consent')
    with op.batch_alter_table('card_charge', schema=None) as batch_op:
        batch_op.drop_index('ix_card_charge_state')
        batch_op.drop_index('ix_card_charge_customer')

    op.drop_table('card_charge')
    # ### end Alembic commands ###
