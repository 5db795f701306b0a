"""The same analytics code on PostgreSQL gives exactly the SQLite answers (incl. the hour-of-day dialect switch).

Runs when SOUQ_TEST_POSTGRES_URL names a reachable server (scripts/test starts a local one); skips otherwise.
Uses a database of its own so it cannot disturb other tests sharing the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from services import analytics
from services.analytics import AnalyticsFilter, Period
from tests.factories import enrol, make_db
from tests.postgres import postgres_database
from tests.unit.test_analytics import VIEWER, WEEK, fill_shop

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    with postgres_database("analytics") as engine:
        yield engine


def test_postgres_report_equals_the_sqlite_report(pg_engine, tmp_path) -> None:
    sqlite = make_db(tmp_path)
    fill_shop(sqlite)
    fill_shop(pg_engine)
    enrol(sqlite, VIEWER)
    enrol(pg_engine, VIEWER)
    # The covering index is part of the model now, so the schema already has it and ensure_indexes has nothing to do.
    assert analytics.ensure_indexes(pg_engine) is False
    with pg_engine.connect() as conn:
        names = {row[0] for row in conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'payment'"))}
    assert analytics.ANALYTICS_INDEX_NAME in names
    for period in (WEEK, Period(date(2026, 1, 1), date(2026, 3, 7)), Period(date(2026, 3, 8), date(2026, 3, 8))):
        for flt in (AnalyticsFilter(), AnalyticsFilter(family="wallet"), AnalyticsFilter(method="card")):
            on_pg = analytics.report(pg_engine, VIEWER, period, filters=flt)
            assert on_pg == analytics.report(sqlite, VIEWER, period, filters=flt)
    # A running Saturday (10:00 Kuwait): Friday is cut at the same moment, on PostgreSQL too.
    saturday, now = Period(date(2026, 3, 7), date(2026, 3, 7)), datetime(2026, 3, 7, 7, tzinfo=UTC)
    running = analytics.report(pg_engine, VIEWER, saturday, now=now)
    assert running == analytics.report(sqlite, VIEWER, saturday, now=now)
    assert running.comparison.previous_until is not None and running.comparison.previous.payments == 0
    week = analytics.report(pg_engine, VIEWER, WEEK)
    assert week.kpis.gross_fils == 62_875 and week.kpis.refunded_fils == 8_500
    heat = {(c.weekday, c.hour): c.captured for c in week.heat if c.captured}
    assert heat[(2, 2)] == 1  # 23:30 UTC on Monday is Tuesday 02:30 in Kuwait, on PostgreSQL too
