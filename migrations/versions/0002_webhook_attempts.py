"""Webhook deliveries: sender address, failed attempts, next retry and why a delivery is unusable (issue 11).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 12:41:29.289217
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("remote", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unusable_reason", sa.String(length=300), nullable=True),
    ]


def upgrade() -> None:
    # Only what is missing, like the baseline: a database adopted at 0001 may come from any earlier build.
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("webhookevent")}
    with op.batch_alter_table("webhookevent", schema=None) as batch_op:
        for column in _columns():
            if column.name not in have:
                batch_op.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("webhookevent", schema=None) as batch_op:
        for column in reversed(_columns()):
            batch_op.drop_column(column.name)
