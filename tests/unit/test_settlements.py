"""Settlement figures add up to the fils with Transactions and Analytics; overdue flags; CSV; permissions."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from services import analytics, settlements
from services.analytics import Period
from services.demo import seed_payments
from services.models import AuditEntry, Deposit, Payment
from services.permissions import PermissionDenied, Role
from services.search import SearchFilter, totals
from services.settlements.schedule import demo_held_capture_day
from tests.factories import make_db, make_payment, make_staff

ANCHOR = date(2026, 11, 26)  # a Thursday
UNTIL = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)  # 21:00 in Kuwait on the anchor day


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory):
    engine = make_db(Path(tmp_path_factory.mktemp("settle")))
    added = seed_payments(engine, ANCHOR, count=1500, days=90, until=UNTIL, deposit_invoice_base="http://sandbox.test")
    assert added > 1500  # the 90-day history and the anchor day up to UNTIL
    finance = make_staff(engine, Role.FINANCE)
    return engine, finance


def test_every_deposit_day_adds_up_with_transactions_and_analytics(seeded) -> None:
    engine, finance = seeded
    report = settlements.settlement_between(engine, finance, date(2026, 10, 1), ANCHOR, overdue_after=2, today=ANCHOR)
    assert len(report.days) > 30 and all(d.day.weekday() in (6, 0, 1, 2, 3) for d in report.days)
    for day in report.days:
        flt = SearchFilter(day_from=day.captured_from, day_to=day.captured_to, statuses={"paid"})
        search = totals(engine, flt)
        kpis = analytics.kpis(engine, finance, Period(day.captured_from, day.captured_to))
        assert day.captured_fils == search.captured_amount_fils == kpis.gross_fils, day.day
        assert day.payments == search.captured_count == kpis.captured, day.day
        assert day.refunds_fils == kpis.refunded_fils, day.day
        assert day.expected_fils == kpis.gross_fils - kpis.refunded_fils
        assert sum(day.expected_by_family.values()) == day.expected_fils
        assert day.deposited_fils + day.difference_fils == day.expected_fils
    assert sum(d.refunds_fils for d in report.days) > 0  # the demo history has refunds to subtract


def test_demo_history_shows_deposited_and_one_overdue_day(seeded) -> None:
    engine, finance = seeded
    report = settlements.settlement_between(engine, finance, date(2026, 11, 1), date(2026, 11, 29),
                                            overdue_after=2, today=ANCHOR)
    held = demo_held_capture_day(ANCHOR)
    overdue = report.overdue_days
    assert [d.day for d in overdue] == [settlements.expected_deposit_day(held)]
    assert overdue[0].deposited_fils == 0 and overdue[0].difference_fils == overdue[0].expected_fils > 0
    by_day = {d.day: d for d in report.days}
    assert by_day[date(2026, 11, 11)].state == "deposited"  # long past: the seed wrote what the sandbox says
    assert by_day[date(2026, 11, 11)].difference_fils == 0
    # Wednesday 25th's captures are due Thursday 26th at 17:00; the seed ran later, so deposited.
    # Thursday 26th's captures (the anchor) are due Sunday 29th: pending, not overdue.
    assert by_day[date(2026, 11, 29)].state == "pending" and not by_day[date(2026, 11, 29)].overdue


def test_overdue_needs_more_than_n_business_days(tmp_path: Path) -> None:
    engine = make_db(tmp_path)
    finance = make_staff(engine, Role.FINANCE)
    # Sunday 22 November, deposit due Monday 23; on Wednesday 25 it is 3 business days old.
    paid = make_payment(engine, amount_fils=12_500, track_id="T-OVERDUE",
                        created_at=datetime(2026, 11, 22, 7, 0, tzinfo=UTC))
    for today, n, flagged in ((date(2026, 11, 24), 2, False), (date(2026, 11, 25), 2, True),
                              (date(2026, 11, 25), 3, False)):
        report = settlements.settlement_between(engine, finance, date(2026, 11, 23), date(2026, 11, 23),
                                                overdue_after=n, today=today)
        assert report.days[0].overdue is flagged, (today, n)
    lines = settlements.day_payments(engine, finance, date(2026, 11, 23), overdue_after=2, today=date(2026, 11, 25))
    assert [(line.order_id, line.overdue, line.deposited) for line in lines] == [(paid.order_id, True, False)]
    with pytest.raises(settlements.SettlementError, match="1 to 20 business days"):
        settlements.settlement_between(engine, finance, ANCHOR, ANCHOR, overdue_after=0)


def test_csv_for_the_accountant_is_audited_once_produced(seeded) -> None:
    engine, finance = seeded
    stream = settlements.export_csv(engine, finance, date(2026, 11, 1), date(2026, 11, 26), overdue_after=2,
                                    today=ANCHOR)
    with Session(engine) as session:
        before = len(session.exec(select(AuditEntry).where(AuditEntry.action == "settlements_exported")).all())
    rows = list(csv.DictReader(io.StringIO("".join(stream))))
    report = settlements.settlement_between(engine, finance, date(2026, 11, 1), date(2026, 11, 26),
                                            overdue_after=2, today=ANCHOR)
    assert [r["deposit_day"] for r in rows] == sorted(d.day.isoformat() for d in report.days)
    total = sum(int(r["expected_kwd"].replace(".", "")) for r in rows)
    assert total == report.total("expected_fils")
    with Session(engine) as session:
        after = session.exec(select(AuditEntry).where(AuditEntry.action == "settlements_exported")).all()
    assert len(after) == before + 1 and f'"rows":{len(rows)}' in (after[-1].after or "")


def test_viewers_read_but_cannot_export_or_match(seeded) -> None:
    engine, _ = seeded
    viewer = make_staff(engine, Role.VIEWER)
    sales = make_staff(engine, Role.SALES)
    assert settlements.recent_settlement(engine, viewer, overdue_after=2, today=ANCHOR).days
    with pytest.raises(PermissionDenied):
        settlements.export_csv(engine, viewer, ANCHOR, ANCHOR, overdue_after=2)
    with pytest.raises(PermissionDenied):
        settlements.match_statement(engine, viewer, b"Date,Description,Credit\n", "s.csv", tolerance_fils=0,
                                    overdue_after=2)
    with pytest.raises(PermissionDenied):
        settlements.recent_settlement(engine, sales, overdue_after=2)


def test_seeded_deposits_follow_the_business_day_clock(seeded) -> None:
    engine, _ = seeded
    with Session(engine) as session:
        rows = session.exec(select(Payment, Deposit).join(Deposit, col(Deposit.payment_pk) == col(Payment.id))).all()
    assert rows and all(d.deposited and d.invoice_url and d.invoice_url.endswith(p.track_id or "-") for p, d in rows)
    for payment, deposit in rows[:200]:
        expected = settlements.expected_deposit_day(date.fromisoformat(payment.local_day))
        assert deposit.deposited_at is not None and deposit.deposited_at.astimezone(UTC).date() == expected
