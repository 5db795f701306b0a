"""When captured money should reach the shop's bank: the next Kuwaiti business day (§18 F12), and when it is late.

A payment captured on Kuwait day ``c`` is expected on :func:`expected_deposit_day` ``(c)``, the first business
day after ``c`` (a Thursday-evening, Friday or Saturday capture arrives on Sunday; a capture before Eid arrives
after it). Going the other way, :func:`capture_days` lists the days whose money one deposit day should bring.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from services import calendar
from services.timeutil import KUWAIT

#: Kuwait time on the expected day by which the sandbox deposits (simulator rule; the live gateway says
#: only "next business day").
DEPOSIT_HOUR = 17
#: Business days before the demo's last day whose captures the demo sandbox holds back (an overdue day to show).
DEMO_HELD_BUSINESS_DAYS = 4
_ONE = timedelta(days=1)


def expected_deposit_day(capture_day: date) -> date:
    """The business day the money captured on ``capture_day`` (Kuwait) should be deposited."""
    return calendar.next_business_day(capture_day)


def capture_days(deposit_day: date) -> list[date]:
    """The Kuwait days whose captures :func:`expected_deposit_day` puts on ``deposit_day`` (empty if it is not a
    business day): from the previous business day up to the day before."""
    if not calendar.is_business_day(deposit_day):
        return []
    return list(calendar.days_in(calendar.previous_business_day(deposit_day), deposit_day - _ONE))


def deposit_time(capture_day: date) -> datetime:
    """The moment the sandbox deposits a capture of ``capture_day``: 17:00 Kuwait on the expected day."""
    return datetime.combine(expected_deposit_day(capture_day), time(DEPOSIT_HOUR), tzinfo=KUWAIT)


def is_overdue(capture_day: date, today: date, overdue_after: int) -> bool:
    """Captured more than ``overdue_after`` business days before ``today`` (and, for the caller, not deposited)."""
    return calendar.business_days_between(capture_day, today) > overdue_after


def last_due_capture_day(today: date) -> date:
    """Captures on days up to this one should have been deposited by ``today`` (their expected day has come)."""
    latest = today if calendar.is_business_day(today) else calendar.previous_business_day(today)
    return latest - _ONE


def demo_held_capture_day(anchor: date) -> date:
    """The capture day whose deposit the demo sandbox withholds, so the demo always shows one overdue day."""
    day = anchor
    for _ in range(DEMO_HELD_BUSINESS_DAYS):
        day = calendar.previous_business_day(day)
    return day
