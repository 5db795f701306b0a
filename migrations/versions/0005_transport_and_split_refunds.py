"""Webhook deliveries: transport and query string (§18 F5); refunds: split-payment payloads (§18 F4, issue 13).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 13:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns() -> dict[str, list[sa.Column[object]]]:
    return {
        "webhookevent": [
            sa.Column("transport", sa.String(length=16), nullable=True),
            sa.Column("query", sa.Text(), nullable=True),
        ],
        "refund": [
            sa.Column("split_payload", sa.Text(), nullable=True),
            sa.Column("split_generated", sa.Text(), nullable=True),
        ],
    }


def upgrade() -> None:
    # Only what is missing, like 0002: a database adopted at 0001 may come from a build that already had them.
    inspector = sa.inspect(op.get_bind())
    for table, columns in _columns().items():
        have = {c["name"] for c in inspector.get_columns(table)}
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                if column.name not in have:
                    batch_op.add_column(column)


def downgrade() -> None:
    for table, columns in _columns().items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in reversed(columns):
                batch_op.drop_column(column.name)
