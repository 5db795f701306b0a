"""Short periods at the right grain: Kuwait hours for today / yesterday / two days, success rates as bars."""

from __future__ import annotations

from datetime import datetime, timedelta

from dashboard import charts
from services import analytics
from services.analytics import Period
from services.permissions import Actor, Role
from services.timeutil import KUWAIT, kuwait_today
from tests.factories import enrol, make_db, make_payment

ADMIN = Actor("ada@shop.test", Role.ADMIN)


def _at(day_offset: int, hour: int, minute: int = 20) -> datetime:
    """A moment in Kuwait ``day_offset`` days from today, as UTC."""
    day = kuwait_today() + timedelta(days=day_offset)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=KUWAIT).astimezone(KUWAIT)


def test_today_and_two_days_are_bucketed_by_kuwait_hour_and_add_up(tmp_path) -> None:
    engine = make_db(tmp_path)
    enrol(engine, ADMIN)
    make_payment(engine, amount_fils=12_500, method="knet", created_at=_at(0, 0, 5))  # 00:05 Kuwait = 21:05 UTC
    make_payment(engine, amount_fils=4_000, method="apple_pay", created_at=_at(0, 0, 40))
    make_payment(engine, amount_fils=7_000, method="card", created_at=_at(-1, 23, 59))
    make_payment(engine, amount_fils=1_000, method="knet", status="failed", created_at=_at(0, 0, 10))
    today = analytics.report(engine, ADMIN, analytics.period_for("today", kuwait_today()))
    assert today.period.grain == "hour" and len({p.bucket for p in today.series}) == 24
    midnight = datetime.combine(kuwait_today(), datetime.min.time())
    hit = {(p.bucket, p.family): p.volume_fils for p in today.series if p.volume_fils}
    assert hit == {(midnight, "knet"): 12_500, (midnight, "wallet"): 4_000}  # the Kuwait hour, not the UTC one
    assert sum(p.volume_fils for p in today.series) == today.kpis.gross_fils == 16_500
    two = analytics.report(engine, ADMIN, Period(kuwait_today() - timedelta(days=1), kuwait_today()))
    assert len({p.bucket for p in two.series}) == 48
    late = {p.bucket for p in two.series if p.family == "card" and p.volume_fils}
    assert late == {midnight - timedelta(hours=1)}
    assert sum(p.volume_fils for p in two.series) == two.kpis.gross_fils == 23_500
    yesterday = analytics.period_for("yesterday", kuwait_today())
    assert yesterday.days == 1 and yesterday.hourly and not Period(yesterday.start_day - timedelta(days=1),
                                                                   kuwait_today()).hourly


def test_hourly_axis_reads_as_clock_times_and_few_days_give_success_bars(tmp_path) -> None:
    engine = make_db(tmp_path)
    enrol(engine, ADMIN)
    make_payment(engine, method="knet", created_at=_at(0, 0))
    make_payment(engine, method="knet", status="failed", created_at=_at(0, 0))
    report = analytics.report(engine, ADMIN, analytics.period_for("today", kuwait_today()))
    fig = charts.volume_figure(report.series, grain=report.period.grain)
    assert fig.layout.xaxis.tickformat == "%H:%M" and fig.layout.xaxis.dtick == 2 * charts.HOUR_MS
    assert fig.layout.title.text == "Captured volume (KWD) by hour"
    success = charts.success_figure(report.success)
    assert [t.type for t in success.data] == ["bar"] and list(success.data[0].y) == [0.5]
    assert success.layout.xaxis.type == "category"
    month = analytics.report(engine, ADMIN, analytics.period_for("last_30_days", kuwait_today()))
    assert charts.volume_figure(month.series, grain=month.period.grain).layout.xaxis.tickformat == "%d %b"
