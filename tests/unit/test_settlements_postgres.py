"""Settlements and the "not yet deposited" filter on PostgreSQL give exactly the SQLite answers.

Runs when SOUQ_TEST_POSTGRES_URL names a reachable server; skips otherwise (a database of its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from services import settlements
from services.demo import seed_payments
from services.permissions import Role
from services.search import SearchFilter, totals
from tests.factories import make_db, make_staff
from tests.postgres import postgres_database

pytestmark = pytest.mark.postgres
ANCHOR = date(2026, 11, 26)


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    with postgres_database("settlements") as engine:
        yield engine


def _figures(engine: Engine) -> tuple[list[Any], int, list[int]]:
    finance = make_staff(engine, Role.FINANCE)
    report = settlements.settlement_between(engine, finance, date(2026, 10, 1), ANCHOR, overdue_after=2,
                                            today=ANCHOR)
    days = [(d.day, d.payments, d.captured_fils, d.refunds_fils, d.pending_fils, d.overdue_payments,
             tuple(sorted(d.expected_by_family.items()))) for d in report.days]
    pending = totals(engine, SearchFilter(not_deposited=True, day_from=date(2026, 10, 1), day_to=ANCHOR))
    return days, pending.count, settlements.due_for_check(engine, today=ANCHOR, limit=500)


def test_postgres_settlement_equals_sqlite(pg_engine: Engine, tmp_path) -> None:
    sqlite = make_db(tmp_path)
    for engine in (sqlite, pg_engine):
        seed_payments(engine, ANCHOR, count=600, days=60)
    lite, pg = _figures(sqlite), _figures(pg_engine)
    assert lite[0] == pg[0] and lite[1] == pg[1] > 0
    assert len(lite[2]) == len(pg[2]) > 0  # the held day's payments are due for a look-up on both
