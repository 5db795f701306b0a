"""Faster pages at a million payments (issue 15): an index for the links page, an hourly summary for analytics.

- ``ix_payment_link_list``: the links page's list, count and status filter read this index alone instead of
  every payment.
- ``ix_payment_link_state`` and ``ix_payment_status_webhook``: the reconciliation page's stuck link creations
  and paid payments without a webhook, found by an index instead of a walk over every payment (1.2 s at 1M).
- ``ix_refund_day_cover``: analytics' refunds per day and method without reading the refund rows.
- ``payment_search_hours`` (SQLite, beside the other search summaries of 0001): captured payments per UTC clock
  hour, method and family, kept exact by triggers on ``payment``. The analytics heat map reads at most 24 rows a
  day from it instead of every captured payment of the period (800,000 in a year at a million).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAYMENT_INDEXES = {
    "ix_payment_link_list": ["source", "created_at", "status", "link_state", "expires_at", "verified_at",
                             "created_by"],
    "ix_payment_link_state": ["link_state", "created_at"],
    "ix_payment_status_webhook": ["status", "webhook_received", "created_at"],
}
REFUND_INDEX = "ix_refund_day_cover"
REFUND_COLUMNS = ["local_day", "state", "payment_pk", "amount_fils"]
HOURS = "payment_search_hours"
_HOUR = "substr({row}.created_at, 1, 13)"  # 'YYYY-MM-DD HH' of the UTC text SQLAlchemy stores on SQLite


def _hours_sql(row: str, sign: str) -> str:
    return (
        f"INSERT INTO {HOURS} (hour, method, family, n) SELECT {_HOUR.format(row=row)}, "
        f"coalesce({row}.method, ''), coalesce({row}.method_family, ''), {sign}1 WHERE {row}.status = 'paid' "
        "ON CONFLICT (hour, method, family) DO UPDATE SET n = n + excluded.n;"
    )


def _hours_ddl() -> list[str]:
    return [
        f"CREATE TABLE {HOURS} (hour TEXT NOT NULL, method TEXT NOT NULL, family TEXT NOT NULL, "
        "n INTEGER NOT NULL, PRIMARY KEY (hour, method, family)) WITHOUT ROWID",
        f"CREATE TRIGGER payment_search_hours_ai AFTER INSERT ON payment BEGIN {_hours_sql('new', '')} END",
        f"CREATE TRIGGER payment_search_hours_ad AFTER DELETE ON payment BEGIN {_hours_sql('old', '-')} END",
        "CREATE TRIGGER payment_search_hours_au AFTER UPDATE OF created_at, status, method, method_family ON payment "
        f"BEGIN {_hours_sql('old', '-')} {_hours_sql('new', '')} END",
        f"INSERT INTO {HOURS} (hour, method, family, n) SELECT {_HOUR.format(row='payment')}, "
        "coalesce(method, ''), coalesce(method_family, ''), count(*) FROM payment WHERE status = 'paid' "
        "GROUP BY 1, 2, 3",
    ]


def upgrade() -> None:
    bind = op.get_bind()
    existing = {ix["name"] for ix in sa.inspect(bind).get_indexes("payment")}
    for name, columns in PAYMENT_INDEXES.items():
        if name not in existing:
            op.create_index(name, "payment", columns, unique=False)
    if REFUND_INDEX not in {ix["name"] for ix in sa.inspect(bind).get_indexes("refund")}:
        op.create_index(REFUND_INDEX, "refund", REFUND_COLUMNS, unique=False)
    if bind.dialect.name == "sqlite" and HOURS not in set(sa.inspect(bind).get_table_names()):
        for statement in _hours_ddl():
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("payment_search_hours_ai", "payment_search_hours_ad", "payment_search_hours_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute(f"DROP TABLE IF EXISTS {HOURS}")
    op.drop_index(REFUND_INDEX, table_name="refund")
    for name in reversed(PAYMENT_INDEXES):
        op.drop_index(name, table_name="payment")
