"""The hourly summary behind the analytics heat map (migration 0006) stays equal to the payments it counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from services.analytics import AnalyticsFilter
from services.analytics.queries import hour_rows
from services.db import read_engine, session_scope
from services.models import Payment
from tests.factories import make_db, make_payment

T0 = datetime(2026, 3, 10, 20, 30, tzinfo=UTC)  # 23:30 in Kuwait: the next UTC hour is the next Kuwait day


def _both(engine, start: date, end: date, flt: AnalyticsFilter) -> tuple[list, list]:
    with read_engine(engine).connect() as conn:
        fast = sorted(hour_rows(conn, start, end, flt, summary=True), key=lambda r: r.hour_utc)
        slow = sorted(hour_rows(conn, start, end, flt, summary=False), key=lambda r: r.hour_utc)
    return fast, slow


def test_hour_summary_follows_inserts_updates_and_deletes_and_equals_the_payments(tmp_path) -> None:
    engine = make_db(tmp_path)
    made = []
    for i in range(30):  # across a Kuwait midnight, several methods and statuses
        made.append(make_payment(engine, created_at=T0 + timedelta(minutes=17 * i),
                                 method=("knet", "apple_pay", "card", None)[i % 4],
                                 status=("paid", "paid", "failed", "pending", "paid")[i % 5]))
    days = (date(2026, 3, 10), date(2026, 3, 11))
    flts = (AnalyticsFilter(), AnalyticsFilter(family="wallet"), AnalyticsFilter(method="knet"))
    for flt in flts:
        fast, slow = _both(engine, *days, flt)
        assert fast == slow and sum(r.count for r in fast) > 0
    with session_scope(engine) as session:  # a pending payment is captured, a paid one moves an hour, one goes
        first, second, third = (session.get(Payment, p.id) for p in (made[3], made[0], made[1]))
        assert first and second and third
        first.status = "paid"
        second.created_at = T0 + timedelta(hours=5)
        session.delete(third)
    for flt in flts:
        for start, end in ((days[0], days[0]), (days[1], days[1]), days):
            assert _both(engine, start, end, flt)[0] == _both(engine, start, end, flt)[1]
    with engine.connect() as conn:  # no hour is left counting a payment that is gone
        assert conn.execute(text("SELECT count(*) FROM payment_search_hours WHERE n < 0")).scalar_one() == 0
