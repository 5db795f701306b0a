"""The Kuwait business calendar: Sunday–Thursday minus public holidays (from ``holidays``) and the shop's extras."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services import calendar
from services.refunds import expected_arrival
from services.settlements.schedule import expected_deposit_day
from services.timeutil import add_working_days


@pytest.fixture(autouse=True)
def _no_extras() -> Iterator[None]:
    calendar.set_extra_holidays([])
    yield
    calendar.set_extra_holidays([])


def test_weekend_is_friday_and_saturday() -> None:
    week = [date(2026, 11, 22) + timedelta(days=i) for i in range(7)]  # Sun 22 … Sat 28 November 2026
    assert [calendar.is_business_day(d) for d in week] == [True, True, True, True, True, False, False]


def test_eid_al_adha_week_2026_is_closed() -> None:
    # holidays 0.108: Arafah Tue 26 May, Eid al-Adha Wed 27 – Fri 29 May 2026 (Hijri dates, estimated)
    for day in (date(2026, 5, 26), date(2026, 5, 27), date(2026, 5, 28)):
        assert calendar.is_holiday(day) and not calendar.is_business_day(day)
        assert calendar.public_holiday_name(day)
    # A payment captured on Monday 25 May deposits after the holidays and the weekend: Sunday 31 May.
    assert expected_deposit_day(date(2026, 5, 25)) == date(2026, 5, 31)
    assert calendar.business_days_between(date(2026, 5, 25), date(2026, 5, 31)) == 1


def test_thursday_before_eid_al_fitr() -> None:
    # Thursday 19 March 2026; Eid al-Fitr Fri 20 – Sun 22 March (estimated): next business day is Monday 23.
    thursday = date(2026, 3, 19)
    assert thursday.weekday() == 3 and calendar.is_business_day(thursday)
    assert expected_deposit_day(thursday) == date(2026, 3, 23)
    # A KNET refund sent that Thursday evening reaches the customer one business day later, a card one ten.
    sent = datetime(2026, 3, 19, 16, 0, tzinfo=UTC)  # 19:00 in Kuwait
    assert expected_arrival("knet", sent) == date(2026, 3, 23)
    assert expected_arrival("card", sent) == add_working_days(date(2026, 3, 19), 10)
    assert calendar.is_business_day(expected_arrival("card", sent))


def test_national_and_liberation_days() -> None:
    # Wednesday 25 and Thursday 26 February 2026: a Tuesday capture deposits on Sunday 1 March.
    assert expected_deposit_day(date(2026, 2, 24)) == date(2026, 3, 1)


def test_extra_bank_holiday_from_the_setting() -> None:
    assert expected_deposit_day(date(2026, 11, 29)) == date(2026, 11, 30)
    calendar.set_extra_holidays(calendar.parse_extra_holidays("2026-11-30, 2026-12-01"))
    assert expected_deposit_day(date(2026, 11, 29)) == date(2026, 12, 2)
    assert calendar.public_holiday_name(date(2026, 11, 30)) == "Bank holiday (shop setting)"


def test_setting_rejects_a_bad_date() -> None:
    with pytest.raises(ValueError, match="'30/11/2026' is not a date"):
        calendar.parse_extra_holidays("2026-11-29,30/11/2026")


def test_settings_apply_the_extra_holidays(monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard.settings import load_settings

    monkeypatch.setenv("SOUQ_EXTRA_BANK_HOLIDAYS", "2026-12-03")
    settings = load_settings()
    assert settings.extra_bank_holidays == [date(2026, 12, 3)]
    assert not calendar.is_business_day(date(2026, 12, 3))


days = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))
methods = st.sampled_from(["knet", "card", "amex", "apple_pay", "google_pay", "samsung_pay", None])


@given(day=days, n=st.integers(min_value=1, max_value=15))
def test_every_promised_date_is_a_business_day(day: date, n: int) -> None:
    promised = calendar.add_business_days(day, n)
    assert calendar.is_business_day(promised) and promised > day
    assert calendar.business_days_between(day, promised) == n
    assert calendar.is_business_day(expected_deposit_day(day))


@given(day=days, method=methods, hour=st.integers(min_value=0, max_value=23))
def test_every_refund_arrival_is_a_business_day(day: date, method: str | None, hour: int) -> None:
    arrival = expected_arrival(method, datetime(day.year, day.month, day.day, hour, tzinfo=UTC))
    assert calendar.is_business_day(arrival)
