"""The Kuwait business calendar: every date we promise (a deposit, a refund's arrival, a report's day) is one.

A business day is Sunday–Thursday (banks have worked that week since before the 2007 weekend change) and not a
Kuwaiti public holiday. Holidays come from the maintained ``holidays`` library (Kuwait, with the Islamic dates
it estimates from the Hijri calendar), never from a list typed in here. A bank sometimes announces a closure
late (an extra Eid day, a moved holiday): those dates are the shop's setting ``SOUQ_EXTRA_BANK_HOLIDAYS``, handed
to :func:`set_extra_holidays` at start-up.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from functools import lru_cache

import holidays

#: Python ``weekday()`` numbers of Sunday (6) and Monday–Thursday (0–3).
BUSINESS_WEEKDAYS = frozenset({6, 0, 1, 2, 3})
#: Longest run of closed days we walk through before giving up (a typo'd setting must not loop for ever).
_MAX_WALK = 400

_lock = threading.Lock()
_extra: frozenset[date] = frozenset()


@lru_cache(maxsize=64)
def _kuwait_year(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("KW", years=year).keys())


def public_holiday_name(day: date) -> str | None:
    """The holiday's name (``"Eid al-Fitr (estimated)"``), or None on an ordinary day."""
    if day in _extra:
        return "Bank holiday (shop setting)"
    name = holidays.country_holidays("KW", years=day.year).get(day)
    return str(name) if name else None


def set_extra_holidays(days: Iterable[date]) -> None:
    """Replace the bank holidays the shop added (the setting); the library's holidays always apply."""
    global _extra
    with _lock:
        _extra = frozenset(days)


def extra_holidays() -> frozenset[date]:
    """The bank holidays the shop added."""
    return _extra


def is_holiday(day: date) -> bool:
    """A Kuwaiti public holiday or a bank holiday the shop added."""
    return day in _extra or day in _kuwait_year(day.year)


def is_business_day(day: date) -> bool:
    """Sunday–Thursday and not a holiday."""
    return day.weekday() in BUSINESS_WEEKDAYS and not is_holiday(day)


def next_business_day(day: date) -> date:
    """The first business day strictly after ``day``."""
    return add_business_days(day, 1)


def on_or_after(day: date) -> date:
    """``day`` if it is a business day, else the next one."""
    return day if is_business_day(day) else next_business_day(day)


def add_business_days(start: date, days: int) -> date:
    """The date ``days`` business days after ``start`` (``days`` ≥ 0; 0 gives ``start`` itself)."""
    if days < 0:
        raise ValueError("days must be zero or more")
    current, remaining, walked = start, days, 0
    while remaining > 0:
        current += timedelta(days=1)
        walked += 1
        if walked > _MAX_WALK * max(1, days):
            raise ValueError("no business day found: check SOUQ_EXTRA_BANK_HOLIDAYS")
        if is_business_day(current):
            remaining -= 1
    return current


def previous_business_day(day: date) -> date:
    """The last business day strictly before ``day``."""
    current = day - timedelta(days=1)
    for _ in range(_MAX_WALK):
        if is_business_day(current):
            return current
        current -= timedelta(days=1)
    raise ValueError("no business day found: check SOUQ_EXTRA_BANK_HOLIDAYS")


def business_days_between(start: date, end: date) -> int:
    """Business days in (start, end]: how many business days ``end`` is after ``start`` (0 when end ≤ start)."""
    return sum(1 for day in days_in(start + timedelta(days=1), end) if is_business_day(day))


def days_in(first: date, last: date) -> Iterator[date]:
    """Every calendar day from ``first`` to ``last`` inclusive."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def parse_extra_holidays(text: str) -> list[date]:
    """``"2026-03-23, 2026-03-24"`` → dates; ValueError with the offending part when one is not YYYY-MM-DD."""
    out: list[date] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(date.fromisoformat(part))
        except ValueError:
            raise ValueError(f"{part!r} is not a date; write bank holidays as YYYY-MM-DD, comma-separated") from None
    return out
