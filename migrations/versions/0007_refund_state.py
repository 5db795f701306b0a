"""Refund state on the payment: partially refunded / refunded, and refunds pending beside it (issue 14).

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-27 13:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX_COLUMNS = ["refund_state", "created_at", "status", "method_family", "method", "amount_fils", "refunded_fils"]


def upgrade() -> None:
    # Only what is missing, like 0002: a database adopted at 0001 may come from a build whose create_all made it.
    # Plain ADD COLUMN (no batch copy): rebuilding ``payment`` on SQLite would drop the search triggers.
    inspector = sa.inspect(op.get_bind())
    have = {c["name"] for c in inspector.get_columns("payment")}
    if "refund_state" not in have:
        op.add_column("payment", sa.Column("refund_state", sa.String(length=20), nullable=True))
    if "refund_pending_fils" not in have:
        op.add_column("payment", sa.Column("refund_pending_fils", sa.Integer(), server_default="0", nullable=False))
    if "ix_payment_refund" not in {i["name"] for i in inspector.get_indexes("payment")}:
        op.create_index("ix_payment_refund", "payment", _INDEX_COLUMNS, unique=False)
    # The same rule as services.refund_state.refund_status, over the rows already there.
    op.execute("UPDATE payment SET refund_state = CASE WHEN refunded_fils >= amount_fils THEN 'refunded' "
               "ELSE 'partially_refunded' END WHERE status = 'paid' AND refunded_fils > 0")
    op.execute("UPDATE payment SET refund_pending_fils = (SELECT coalesce(sum(r.amount_fils), 0) FROM refund r "
               "WHERE r.payment_pk = payment.id AND r.state IN ('pending_approval', 'sending', 'uncertain')) "
               "WHERE id IN (SELECT payment_pk FROM refund WHERE state IN ('pending_approval', 'sending', "
               "'uncertain'))")


def downgrade() -> None:
    op.drop_index("ix_payment_refund", table_name="payment")
    op.drop_column("payment", "refund_pending_fils")  # SQLite ≥ 3.35 drops a column in place
    op.drop_column("payment", "refund_state")
