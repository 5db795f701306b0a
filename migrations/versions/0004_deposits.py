"""Deposits: what get-deposit-status said about each captured payment (issue 17, settlements).

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-27 12:53:45.862077
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only when missing, like 0002: a database adopted at 0001 may come from a build whose create_all made it.
    if sa.inspect(op.get_bind()).has_table("deposit"):
        return
    op.create_table(
        "deposit",
        sa.Column("payment_pk", sa.Integer(), nullable=False),
        sa.Column("deposited", sa.Boolean(), nullable=False),
        sa.Column("deposited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invoice_url", sa.String(length=1000), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["payment_pk"], ["payment.id"]),
        sa.PrimaryKeyConstraint("payment_pk"),
    )
    with op.batch_alter_table("deposit", schema=None) as batch_op:
        batch_op.create_index("ix_deposit_checked", ["deposited", "checked_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deposit", schema=None) as batch_op:
        batch_op.drop_index("ix_deposit_checked")
    op.drop_table("deposit")
