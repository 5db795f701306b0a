"""Several app servers on one PostgreSQL (issue 19): the shared status budget and the webhook verification claim.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 13:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only what is missing, like 0002 and 0004: a database adopted at 0001 may come from a build whose create_all
    # made these already.
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("status_slot"):
        _create_status_slot()
    have = {c["name"] for c in inspector.get_columns("webhookevent")}
    with op.batch_alter_table("webhookevent", schema=None) as batch_op:
        if "claimed_by" not in have:
            batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        if "claimed_at" not in have:
            batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))


def _create_status_slot() -> None:
    op.create_table(
        "status_slot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lane", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("status_slot", schema=None) as batch_op:
        batch_op.create_index("ix_status_slot_state", ["state", "ended_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhookevent", schema=None) as batch_op:
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claimed_by")
    with op.batch_alter_table("status_slot", schema=None) as batch_op:
        batch_op.drop_index("ix_status_slot_state")
    op.drop_table("status_slot")
