"""Deposited money per Kuwait capture day and method family, kept by triggers (SQLite; issue 15).

The Settlements page's expected, deposited and pending amounts were summed from every paid payment of the
capture days (and each one's deposit row): its warm run grew with the payments (46 → 75 → 167 ms p50 at
100,000 → 1,000,000 → 5,000,000). Captured money per day and family is already in ``payment_search_daily``;
this adds what get-deposit-status confirmed, ``settlement_deposited``: count and fils of the paid payments with
a "Yes" deposit row, per (``payment.local_day``, family; '' when none). Triggers on ``deposit`` (a "Yes"
arriving, a row removed) and on ``payment`` (status, amount, day or family changing under a "Yes") keep it
exact; pending = captured − deposited. PostgreSQL is untouched (Settlements sums the payments there).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 21:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "settlement_deposited"
TRIGGERS = ("settlement_deposited_dep_ai", "settlement_deposited_dep_ad", "settlement_deposited_dep_au",
            "settlement_deposited_pay_au", "settlement_deposited_pay_ad")
_UPSERT = (f"ON CONFLICT (day, family) DO UPDATE SET n = {TABLE}.n + excluded.n, "
           f"amount = {TABLE}.amount + excluded.amount;")


def _by_deposit(row: str, sign: str) -> str:
    """Add (``sign`` '') or take away ('-') the payment of deposit row ``row`` when it is a "Yes" for a paid one."""
    return (f"INSERT INTO {TABLE} (day, family, n, amount) SELECT p.local_day, coalesce(p.method_family, ''), "
            f"{sign}1, {sign}p.amount_fils FROM payment p WHERE p.id = {row}.payment_pk AND {row}.deposited "
            f"AND p.status = 'paid' {_UPSERT}")


def _by_payment(row: str, sign: str) -> str:
    """Add or take away payment row ``row`` when it is paid and its deposit row says "Yes"."""
    return (f"INSERT INTO {TABLE} (day, family, n, amount) SELECT {row}.local_day, "
            f"coalesce({row}.method_family, ''), {sign}1, {sign}{row}.amount_fils FROM deposit d "
            f"WHERE d.payment_pk = {row}.id AND d.deposited AND {row}.status = 'paid' {_UPSERT}")


def ddl() -> list[str]:
    return [
        f"CREATE TABLE {TABLE} (day TEXT NOT NULL, family TEXT NOT NULL, n INTEGER NOT NULL, "
        "amount INTEGER NOT NULL, PRIMARY KEY (day, family)) WITHOUT ROWID",
        f"CREATE TRIGGER settlement_deposited_dep_ai AFTER INSERT ON deposit BEGIN {_by_deposit('new', '')} END",
        f"CREATE TRIGGER settlement_deposited_dep_ad AFTER DELETE ON deposit BEGIN {_by_deposit('old', '-')} END",
        "CREATE TRIGGER settlement_deposited_dep_au AFTER UPDATE OF deposited, payment_pk ON deposit "
        f"BEGIN {_by_deposit('old', '-')} {_by_deposit('new', '')} END",
        "CREATE TRIGGER settlement_deposited_pay_au AFTER UPDATE OF status, amount_fils, local_day, method_family "
        f"ON payment BEGIN {_by_payment('old', '-')} {_by_payment('new', '')} END",
        f"CREATE TRIGGER settlement_deposited_pay_ad AFTER DELETE ON payment BEGIN {_by_payment('old', '-')} END",
        fill(),
    ]


def fill() -> str:
    """The table filled from the rows already there (the upgrade; bench/seed.py after a load without triggers)."""
    return (f"INSERT INTO {TABLE} (day, family, n, amount) SELECT p.local_day, coalesce(p.method_family, ''), "
            "count(*), sum(p.amount_fils) FROM deposit d JOIN payment p ON p.id = d.payment_pk "
            "WHERE d.deposited AND p.status = 'paid' GROUP BY 1, 2")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite" or TABLE in set(sa.inspect(bind).get_table_names()):
        return
    for statement in ddl():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute(f"DROP TABLE IF EXISTS {TABLE}")
