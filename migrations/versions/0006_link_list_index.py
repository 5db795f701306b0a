"""An index for the links page: list, count and status filter of payment links from the index alone (issue 15).

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-27 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_payment_link_list"
COLUMNS = ["source", "created_at", "status", "link_state", "expires_at", "verified_at", "created_by"]


def upgrade() -> None:
    existing = {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes("payment")}
    if NAME not in existing:
        op.create_index(NAME, "payment", COLUMNS, unique=False)


def downgrade() -> None:
    op.drop_index(NAME, table_name="payment")
