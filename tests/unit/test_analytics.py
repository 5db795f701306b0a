"""Analytics aggregations on small hand-made data with known answers (real SQLite files, no mocks)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.engine import Engine

from services import analytics
from services.analytics import AnalyticsFilter, Period, period_for, previous_period
from services.permissions import Actor, PermissionDenied, Role
from tests.factories import enrol, make_db, make_payment, make_refund

VIEWER = Actor("vic@shop.test", Role.VIEWER)
WEEK = Period(date(2026, 3, 1), date(2026, 3, 7))  # Sunday .. Saturday


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def shop(tmp_path) -> Engine:
    engine = make_db(tmp_path)
    fill_shop(engine)
    enrol(engine, VIEWER)
    return engine


def fill_shop(engine: Engine) -> None:
    """One Kuwait week of payments and refunds with every edge the definitions care about."""
    pay = lambda fils, method, status, at: make_payment(  # noqa: E731
        engine, amount_fils=fils, method=method, status=status, created_at=at)
    knet_sun = pay(10_000, "knet", "paid", utc(2026, 3, 1, 9))  # Sun 12:00 Kuwait
    pay(5_250, "knet", "paid", utc(2026, 3, 2, 23, 30))  # 23:30 UTC Monday = Tuesday 02:30 in Kuwait
    card = pay(20_000, "card", "paid", utc(2026, 3, 3, 10))  # Tue 13:00
    pay(7_000, "card", "failed", utc(2026, 3, 3, 11))
    apple = pay(12_500, "apple_pay", "paid", utc(2026, 3, 4, 15))  # Wed 18:00
    pay(3_000, "apple_pay_knet", "paid", utc(2026, 3, 5, 16))  # Thu 19:00
    pay(4_000, "google_pay", "cancelled", utc(2026, 3, 5, 17))
    pay(8_125, "samsung_pay", "paid", utc(2026, 3, 6, 18))  # Fri 21:00
    pay(9_000, None, "pending", utc(2026, 3, 6, 19))  # an unopened link: no method yet
    pay(2_000, "knet", "expired", utc(2026, 3, 7, 20))
    pay(1_000, "knet", "paid", utc(2026, 3, 7, 21, 30))  # Sunday 8 March 00:30 Kuwait: next period
    pay(4_000, "knet", "paid", utc(2026, 2, 28, 21))  # exactly Kuwait midnight of 1 March: inside
    earlier = pay(6_000, "knet", "paid", utc(2026, 2, 25, 10))  # previous period
    pay(1_000, "card", "failed", utc(2026, 2, 26, 10))  # previous period
    make_refund(engine, card, amount_fils=2_500, state="refunded", created_at=utc(2026, 3, 4, 10),
                reason="customer_request")  # partial refund
    make_refund(engine, earlier, amount_fils=6_000, state="initiated", created_at=utc(2026, 3, 2, 8),
                reason="customer_request")  # counts on the day it was made
    make_refund(engine, knet_sun, amount_fils=10_000, state="initiated", created_at=utc(2026, 3, 7, 22),
                reason="customer_request")  # Kuwait 8 March: next period
    for state in ("pending_approval", "rejected", "cancelled", "failed", "sending", "uncertain"):
        make_refund(engine, apple, amount_fils=1_000, state=state, created_at=utc(2026, 3, 5, 9),
                    reason="customer_request")  # none of these moved money


def test_kpis_follow_the_documented_definitions(shop) -> None:
    k = analytics.kpis(shop, VIEWER, WEEK)
    assert (k.payments, k.captured, k.failed, k.cancelled) == (11, 7, 1, 1)
    assert k.gross_fils == 10_000 + 5_250 + 20_000 + 12_500 + 3_000 + 8_125 + 4_000 == 62_875
    assert k.success_rate == pytest.approx(7 / 9)  # pending and expired are not in the denominator
    assert k.avg_ticket_fils == 8_982  # 62 875 / 7 = 8 982.14 → fils, half up
    assert (k.refunds, k.refunded_fils) == (2, 8_500)  # partial card refund + the refund made on 2 March
    assert k.net_fils == 54_375
    assert k.refund_rate == pytest.approx(8_500 / 62_875)


def test_next_kuwait_day_belongs_to_the_next_period(shop) -> None:
    k = analytics.kpis(shop, VIEWER, Period(date(2026, 3, 8), date(2026, 3, 8)))
    assert (k.payments, k.gross_fils, k.refunds, k.refunded_fils) == (1, 1_000, 1, 10_000)


def test_previous_period_comparison(shop) -> None:
    cmp = analytics.compare(shop, VIEWER, WEEK)
    assert cmp.previous.period == Period(date(2026, 2, 22), date(2026, 2, 28))
    assert (cmp.previous.payments, cmp.previous.captured, cmp.previous.gross_fils) == (2, 1, 6_000)
    assert cmp.previous.success_rate == 0.5 and cmp.previous.refunded_fils == 0
    gross = cmp.change("gross_fils")
    assert (gross.current, gross.previous, gross.diff) == (62_875, 6_000, 56_875)
    assert gross.ratio == pytest.approx(56_875 / 6_000)
    assert cmp.change("success_rate").diff == pytest.approx(7 / 9 - 0.5)
    assert cmp.change("refunded_fils").ratio is None  # nothing to compare with
    assert cmp.current == analytics.kpis(shop, VIEWER, WEEK)


def test_a_running_day_is_compared_with_the_same_hours_of_the_day_before(shop) -> None:
    """Saturday 7 March at 10:00 Kuwait: Friday counts only up to 10:00 (the shop's week is filled Fri evening)."""
    morning = make_payment(shop, amount_fils=1_500, method="knet", created_at=utc(2026, 3, 6, 5))  # Fri 08:00
    make_refund(shop, morning, amount_fils=500, state="refunded", created_at=utc(2026, 3, 6, 6),
                reason="customer_request")  # Fri 09:00: before the cut
    now = utc(2026, 3, 7, 7)  # Sat 10:00 Kuwait
    saturday = Period(date(2026, 3, 7), date(2026, 3, 7))
    cmp = analytics.compare(shop, VIEWER, saturday, now=now)
    assert cmp.previous_until == utc(2026, 3, 6, 7)  # Fri 10:00 Kuwait
    assert (cmp.previous.payments, cmp.previous.gross_fils, cmp.previous.refunded_fils) == (1, 1_500, 500)
    whole = analytics.compare(shop, VIEWER, saturday, now=utc(2026, 3, 8, 7))  # Saturday is over
    assert whole.previous_until is None
    assert (whole.previous.payments, whole.previous.gross_fils) == (3, 1_500 + 8_125)  # + the pending link
    assert analytics.report(shop, VIEWER, saturday, now=now).comparison == cmp


def test_daily_family_series_cuts_days_at_kuwait_midnight(shop) -> None:
    series = analytics.family_series(shop, VIEWER, WEEK)
    assert len(series) == 7 * 3  # every day × KNET, card, wallet, zeros included
    got = {(p.bucket, p.family): (p.captured, p.volume_fils) for p in series if p.captured}
    assert got == {
        (date(2026, 3, 1), "knet"): (2, 14_000),
        (date(2026, 3, 3), "knet"): (1, 5_250),  # the 23:30 UTC payment of 2 March
        (date(2026, 3, 3), "card"): (1, 20_000),
        (date(2026, 3, 4), "wallet"): (1, 12_500),
        (date(2026, 3, 5), "wallet"): (1, 3_000),
        (date(2026, 3, 6), "wallet"): (1, 8_125),
    }


def test_long_periods_are_bucketed_by_sunday_weeks(shop) -> None:
    period = Period(date(2026, 1, 1), date(2026, 3, 7))  # 66 days > 62
    assert period.weekly
    series = analytics.family_series(shop, VIEWER, period)
    buckets = sorted({p.bucket for p in series})
    assert buckets[0] == date(2025, 12, 28) and buckets[-1] == date(2026, 3, 1)
    assert all(b.weekday() == 6 for b in buckets) and len(buckets) == 10
    week = {p.family: (p.captured, p.volume_fils) for p in series if p.bucket == date(2026, 3, 1)}
    assert week == {"knet": (3, 19_250), "card": (1, 20_000), "wallet": (3, 23_625)}
    feb22 = {p.family: p.volume_fils for p in series if p.bucket == date(2026, 2, 22)}
    assert feb22 == {"knet": 6_000, "card": 0, "wallet": 0}


def test_report_mix_wallets_success_heat_and_refunds(shop) -> None:
    r = analytics.report(shop, VIEWER, WEEK)
    assert r.kpis == analytics.kpis(shop, VIEWER, WEEK)
    mix = {m.method: (m.family, m.captured, m.volume_fils) for m in r.mix}
    assert mix == {
        "knet": ("knet", 3, 19_250), "card": ("card", 1, 20_000), "apple_pay": ("wallet", 1, 12_500),
        "apple_pay_knet": ("wallet", 1, 3_000), "samsung_pay": ("wallet", 1, 8_125),
    }
    assert sum(m.volume_share for m in r.mix) == pytest.approx(1.0)
    families = {f.family: (f.captured, f.volume_fils) for f in r.family_totals()}
    assert families == {"knet": (3, 19_250), "card": (1, 20_000), "wallet": (3, 23_625)}
    success = {(p.method, p.bucket): (p.captured, p.decided) for p in r.success}
    assert success[("card", date(2026, 3, 3))] == (1, 2)
    assert success[("google_pay", date(2026, 3, 5))] == (0, 1)
    assert ("knet", date(2026, 3, 7)) not in success  # expired only: no success-rate point
    assert len(r.heat) == 7 * 24
    heat = {(c.weekday, c.hour): c.captured for c in r.heat if c.captured}
    assert heat == {(0, 12): 1, (0, 0): 1, (2, 2): 1, (2, 13): 1, (3, 18): 1, (4, 19): 1, (5, 21): 1}
    refunds = {x.method: (x.refunds, x.refunded_fils) for x in r.refunds}
    assert refunds == {"knet": (1, 6_000), "card": (1, 2_500)}
    assert not r.empty


def test_family_and_method_filters(shop) -> None:
    wallet = analytics.report(shop, VIEWER, WEEK, filters=AnalyticsFilter(family="wallet"))
    assert (wallet.kpis.payments, wallet.kpis.captured, wallet.kpis.gross_fils) == (4, 3, 23_625)
    assert wallet.kpis.success_rate == pytest.approx(3 / 4) and wallet.kpis.refunded_fils == 0
    assert {p.family for p in wallet.series} == {"wallet"}
    assert sum(c.captured for c in wallet.heat) == 3
    card = analytics.kpis(shop, VIEWER, WEEK, filters=AnalyticsFilter(method="card"))
    assert (card.gross_fils, card.refunded_fils, card.failed) == (20_000, 2_500, 1)
    with pytest.raises(ValueError, match="not a knet method"):
        AnalyticsFilter(family="knet", method="apple_pay")
    with pytest.raises(ValueError, match="Unknown payment family"):
        AnalyticsFilter(family="cash")


def test_empty_period(shop) -> None:
    r = analytics.report(shop, VIEWER, Period(date(2025, 1, 1), date(2025, 1, 31)))
    assert r.empty and r.kpis.success_rate is None and r.kpis.avg_ticket_fils is None
    assert r.mix == [] and r.refunds == [] and all(c.captured == 0 for c in r.heat)


def test_every_entry_point_checks_the_permission(shop) -> None:
    sales = Actor("sara@shop.test", Role.SALES)
    enrol(shop, sales)
    for call in (analytics.kpis, analytics.compare, analytics.family_series, analytics.hour_weekday,
                 analytics.report):
        with pytest.raises(PermissionDenied):
            call(shop, sales, WEEK)


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ("today", (date(2026, 3, 4), date(2026, 3, 4))),
        ("this_week", (date(2026, 3, 1), date(2026, 3, 4))),
        ("last_7_days", (date(2026, 2, 26), date(2026, 3, 4))),
        ("last_30_days", (date(2026, 2, 3), date(2026, 3, 4))),
        ("last_90_days", (date(2025, 12, 5), date(2026, 3, 4))),
        ("this_month", (date(2026, 3, 1), date(2026, 3, 4))),
    ],
)
def test_presets(preset, expected) -> None:
    period = period_for(preset, date(2026, 3, 4))  # a Wednesday
    assert (period.start_day, period.end_day) == expected
    before = previous_period(period)
    assert before.days == period.days and (period.start_day - before.end_day).days == 1


def test_custom_and_invalid_periods() -> None:
    assert period_for("custom", date(2026, 3, 4), (date(2026, 1, 1), date(2026, 1, 31))).days == 31
    with pytest.raises(ValueError, match="start and an end"):
        period_for("custom", date(2026, 3, 4))
    with pytest.raises(ValueError, match="end is before"):
        period_for("custom", date(2026, 3, 4), (date(2026, 2, 1), date(2026, 1, 1)))
    with pytest.raises(ValueError, match="Unknown period"):
        period_for("last_year", date(2026, 3, 4))
    yesterday = period_for("yesterday", date(2026, 3, 4))
    assert (yesterday.start_day, yesterday.days, yesterday.grain) == (date(2026, 3, 3), 1, "hour")
    assert previous_period(Period(date(2026, 3, 1), date(2026, 3, 31))) == Period(date(2026, 1, 29),
                                                                                   date(2026, 2, 28))


def test_period_bounds_match_the_kuwait_day_filter_of_the_search() -> None:
    lo, hi = WEEK.utc_bounds()
    assert (lo, hi) == (utc(2026, 2, 28, 21), utc(2026, 3, 7, 21))
