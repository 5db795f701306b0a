"""Period totals equal an independent computation over the same rows, to the fils.

The independent side filters the way the transactions search does: ``created_at`` within the Kuwait-day bounds
of :func:`services.timeutil.kuwait_day_bounds` (not ``local_day``) and ``status``; refunds by their own
``created_at`` and the counted states.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from bench.seed import seed_payments
from services import analytics, search
from services.analytics import AnalyticsFilter, Period, queries
from services.models import Payment, Refund
from services.permissions import Actor, Role
from services.timeutil import kuwait_day_bounds, to_kuwait, utcnow
from tests.factories import enrol, make_db

ADMIN = Actor("ada@shop.test", Role.ADMIN)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    engine = make_db(tmp_path_factory.mktemp("eq"))
    enrol(engine, ADMIN)
    seed_payments(engine, 4_000, seed=7, days=45, refunds_ratio=0.08)
    with Session(engine) as session:
        payments = list(session.exec(select(Payment)).all())
        refunds = list(session.exec(select(Refund)).all())
    return engine, payments, refunds


def independent(payments, refunds, period: Period, flt: AnalyticsFilter, until=None) -> dict[str, int]:
    lo, hi = kuwait_day_bounds(period.start_day)[0], kuwait_day_bounds(period.end_day)[1]
    hi = min(hi, until) if until is not None else hi
    ok = lambda p: (flt.family is None or p.method_family == flt.family) and (  # noqa: E731
        flt.method is None or p.method == flt.method)
    mine = [p for p in payments if lo <= p.created_at < hi and ok(p)]
    paid = [p for p in mine if p.status == "paid"]
    by_pk = {p.id: p for p in payments}
    counted = [r for r in refunds if lo <= r.created_at < hi and r.state in ("initiated", "refunded")
               and ok(by_pk[r.payment_pk])]
    return {
        "payments": len(mine),
        "captured": len(paid),
        "failed": sum(p.status == "failed" for p in mine),
        "cancelled": sum(p.status == "cancelled" for p in mine),
        "gross_fils": sum(p.amount_fils for p in paid),
        "refunds": len(counted),
        "refunded_fils": sum(r.amount_fils for r in counted),
    }


def periods() -> list[Period]:
    today = to_kuwait(utcnow()).date()
    out = [analytics.period_for(p, today) for p in ("today", "yesterday", "this_week", "last_7_days",
                                                       "last_30_days", "last_90_days", "this_month")]
    out.append(Period(today - timedelta(days=1), today))  # two days: still hourly
    out.append(Period(today - timedelta(days=40), today - timedelta(days=38)))
    return out


@pytest.mark.parametrize("flt", [AnalyticsFilter(), AnalyticsFilter(family="wallet"),
                                 AnalyticsFilter(family="knet"), AnalyticsFilter(method="amex")])
def test_kpis_equal_an_independent_sum_over_created_at_bounds(seeded, flt) -> None:
    engine, payments, refunds = seeded
    now = utcnow()
    names = ("payments", "captured", "failed", "cancelled", "gross_fils", "refunds", "refunded_fils")
    for period in periods():
        report = analytics.report(engine, ADMIN, period, filters=flt, now=now)
        k = report.kpis
        got = {name: getattr(k, name) for name in names}
        assert got == independent(payments, refunds, period, flt), period
        # While the period's last day runs, the previous period counts only up to the same moment.
        running = period.end_day == to_kuwait(now).date()
        until = now - timedelta(days=period.days) if running else None
        prev = independent(payments, refunds, analytics.previous_period(period), flt, until)
        assert {name: getattr(report.comparison.previous, name) for name in names} == prev, period
        assert report.comparison.previous_until == until
        # Every chart adds up to the same totals.
        assert sum(p.volume_fils for p in report.series) == k.gross_fils
        assert sum(p.captured for p in report.series) == k.captured
        assert sum(m.volume_fils for m in report.mix) == k.gross_fils
        assert sum(c.captured for c in report.heat) == k.captured
        assert sum(r.refunded_fils for r in report.refunds) == k.refunded_fils
        assert sum(p.captured for p in report.success) == k.captured - sum(
            m.captured for m in report.mix if m.method == analytics.OTHER)


def test_seeded_data_is_realistic_enough_to_mean_something(seeded) -> None:
    _, payments, refunds = seeded
    assert {p.method_family for p in payments} >= {"knet", "card", "wallet", None}
    assert {p.status for p in payments} == {"paid", "failed", "cancelled", "pending", "expired"}
    assert {r.state for r in refunds} >= {"refunded", "initiated", "pending_approval", "cancelled"}
    by_pk = {p.id: p for p in payments}
    assert any(r.amount_fils < by_pk[r.payment_pk].amount_fils for r in refunds)  # partial refunds too
    assert all(p.local_day == to_kuwait(p.created_at).date().isoformat() for p in payments)
    today = to_kuwait(utcnow()).date()
    days = {date.fromisoformat(p.local_day) for p in payments}
    assert len(days) == 45 and today - timedelta(days=1) <= max(days) <= today


def test_summary_and_plain_sql_give_identical_daily_rows(tmp_path) -> None:
    """SQLite reads the search's trigger-kept summary; PostgreSQL groups ``payment``: same rows, also after writes."""
    engine = make_db(tmp_path)
    enrol(engine, ADMIN)
    seed_payments(engine, 1_500, seed=3, days=20)
    reader, summary = queries.prepare(engine)
    assert summary  # SQLite: the shared summary is in place after prepare()
    analytics.ensure_indexes(engine)
    today = to_kuwait(utcnow()).date()
    start, flt = today - timedelta(days=30), AnalyticsFilter()

    def both() -> tuple[set, set]:
        with reader.connect() as conn:
            return (set(queries.daily_rows(conn, start, today, flt, summary=True)),
                    set(queries.daily_rows(conn, start, today, flt, summary=False)))

    from_summary, plain = both()
    assert from_summary == plain and sum(r.count for r in plain) == 1_500
    # New rows and status changes after the summary exists reach it through its triggers.
    seed_payments(engine, 500, seed=4, days=20)
    with engine.begin() as conn:
        conn.execute(text("UPDATE payment SET status = 'paid' WHERE status = 'pending'"))
        conn.execute(text("DELETE FROM refund WHERE payment_pk IN (SELECT id FROM payment WHERE id % 97 = 0)"))
        conn.execute(text("DELETE FROM payment WHERE id % 97 = 0"))
    from_summary, plain = both()
    assert from_summary == plain and not any(r.status == "pending" for r in plain)


@pytest.mark.parametrize("flt", [AnalyticsFilter(), AnalyticsFilter(family="card"), AnalyticsFilter(method="knet")])
def test_totals_equal_the_transactions_search_for_the_same_filter(seeded, flt) -> None:
    engine, _, _ = seeded
    for period in periods():
        k = analytics.kpis(engine, ADMIN, period, filters=flt)
        t = search.totals(engine, queries.search_filter(period.start_day, period.end_day, flt))
        assert (t.count, t.captured_count, t.captured_amount_fils) == (k.payments, k.captured, k.gross_fils)
    query = analytics.transactions_query(Period(date(2026, 1, 1), date(2026, 1, 31)), AnalyticsFilter("wallet"))
    assert query == {"from": "2026-01-01", "to": "2026-01-31", "family": "wallet"}


@pytest.mark.parametrize("flt", [AnalyticsFilter(), AnalyticsFilter(family="wallet"), AnalyticsFilter(method="knet")])
def test_the_database_summed_report_equals_the_row_by_row_report(seeded, flt) -> None:
    """report() adds each figure up in SQL (services.analytics.rollup); the same figures rolled up in Python from
    the summary's rows and from ``payment`` itself are the reference: equal in every field, to the fils, for
    running periods (the previous one cut at the same moment), past ones, hourly, daily and weekly ones."""
    engine, _, _ = seeded
    today = to_kuwait(utcnow()).date()
    reader, summary = queries.prepare(engine)
    assert summary
    now = utcnow()
    for period in [*periods(), Period(today - timedelta(days=364), today),
                   Period(today - timedelta(days=100), today - timedelta(days=20))]:
        with reader.connect() as conn:
            summed = analytics.summed_report(conn, period, flt, now)
            rows = analytics.rowwise_report(conn, True, period, flt, now)
            plain = analytics.rowwise_report(conn, False, period, flt, now)
        assert summed == rows == plain, period
        assert summed.kpis.payments or period.end_day < today - timedelta(days=45)
    assert analytics.report(engine, ADMIN, periods()[5], filters=flt, now=now) == plain_report(engine, periods()[5],
                                                                                           flt, now)


def plain_report(engine, period: Period, flt: AnalyticsFilter, now) -> analytics.Report:
    """The reference: report() rolled up in Python from ``payment`` itself."""
    reader, _ = queries.prepare(engine)
    with reader.connect() as conn:
        return analytics.rowwise_report(conn, False, period, flt, now)
