"""The same analytics code on PostgreSQL gives exactly the SQLite answers (incl. the hour-of-day dialect switch).

Runs when SOUQ_TEST_POSTGRES_URL names a reachable server (scripts/test starts a local one); skips otherwise.
Uses a database of its own so it cannot disturb other tests sharing the server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from services import analytics
from services.analytics import AnalyticsFilter, Period
from services.db import create_schema, make_engine
from tests.factories import make_db
from tests.unit.test_analytics import VIEWER, WEEK, fill_shop

pytestmark = pytest.mark.postgres
URL = os.environ.get("SOUQ_TEST_POSTGRES_URL")


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    if not URL:
        pytest.skip("SOUQ_TEST_POSTGRES_URL is not set (no PostgreSQL server for this run)")
    name = f"souq_analytics_{os.getpid()}"
    try:
        admin = create_engine(URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # a configured but unreachable server is a skip, not a failure
        pytest.skip(f"PostgreSQL at SOUQ_TEST_POSTGRES_URL is not usable: {type(exc).__name__}")
    engine = make_engine(make_url(URL).set(database=name).render_as_string(hide_password=False))
    create_schema(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def test_postgres_report_equals_the_sqlite_report(pg_engine, tmp_path) -> None:
    sqlite = make_db(tmp_path)
    fill_shop(sqlite)
    fill_shop(pg_engine)
    # The covering index is part of the model now, so the schema already has it and ensure_indexes has nothing to do.
    assert analytics.ensure_indexes(pg_engine) is False
    with pg_engine.connect() as conn:
        names = {row[0] for row in conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'payment'"))}
    assert analytics.ANALYTICS_INDEX_NAME in names
    for period in (WEEK, Period(date(2026, 1, 1), date(2026, 3, 7)), Period(date(2026, 3, 8), date(2026, 3, 8))):
        for flt in (AnalyticsFilter(), AnalyticsFilter(family="wallet"), AnalyticsFilter(method="card")):
            on_pg = analytics.report(pg_engine, VIEWER, period, filters=flt)
            assert on_pg == analytics.report(sqlite, VIEWER, period, filters=flt)
    week = analytics.report(pg_engine, VIEWER, WEEK)
    assert week.kpis.gross_fils == 62_875 and week.kpis.refunded_fils == 8_500
    heat = {(c.weekday, c.hour): c.captured for c in week.heat if c.captured}
    assert heat[(2, 2)] == 1  # 23:30 UTC on Monday is Tuesday 02:30 in Kuwait, on PostgreSQL too
