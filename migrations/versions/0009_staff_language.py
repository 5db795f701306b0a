"""Staff language and digits (issue 18, Arabic staff dashboard).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 13:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only when missing, like 0002/0004: a database adopted at 0001 may come from a build whose create_all made them.
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("staff")}
    with op.batch_alter_table("staff", schema=None) as batch_op:
        if "language" not in have:
            batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        if "digits" not in have:
            batch_op.add_column(sa.Column("digits", sa.String(length=8), server_default="latn", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("digits")
        batch_op.drop_column("language")
