"""Time: store UTC, show and bucket in Asia/Kuwait (UTC+3, no DST); the business week is Sunday–Thursday."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.calendar import add_business_days, is_business_day

KUWAIT = ZoneInfo("Asia/Kuwait")
GATEWAY_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
WORKING_WEEKDAYS = frozenset({6, 0, 1, 2, 3})  # Python weekday(): Sunday=6, Monday=0 … Thursday=3 (charts' week)


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A datetime in UTC; naive values are taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_kuwait(value: datetime) -> datetime:
    """The same instant in Kuwait time."""
    return as_utc(value).astimezone(KUWAIT)


def kuwait_today() -> date:
    """Today's date in Kuwait."""
    return to_kuwait(utcnow()).date()


def local_day(value: datetime) -> str:
    """The Kuwait calendar day of an instant, ``YYYY-MM-DD`` (days are cut at Kuwait midnight)."""
    return to_kuwait(value).date().isoformat()


def kuwait_day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a Kuwait calendar day, in UTC."""
    start = datetime(day.year, day.month, day.day, tzinfo=KUWAIT).astimezone(UTC)
    return start, start + timedelta(days=1)


def parse_gateway_time(text: str | None) -> datetime | None:
    """Parse the gateway's ``YYYY-MM-DD HH:MM:SS`` (no zone; Kuwait local time per contract §1.3) to UTC."""
    if not text:
        return None
    try:
        naive = datetime.strptime(text.strip()[:19], GATEWAY_TIME_FORMAT)
    except ValueError:
        return None
    return naive.replace(tzinfo=KUWAIT).astimezone(UTC)


def format_gateway_time(value: datetime) -> str:
    """An instant as the gateway writes it: Kuwait local time, ``YYYY-MM-DD HH:MM:SS``."""
    return to_kuwait(value).strftime(GATEWAY_TIME_FORMAT)


def is_working_day(day: date) -> bool:
    """A Kuwaiti business day: Sunday–Thursday and not a holiday (:mod:`services.calendar`)."""
    return is_business_day(day)


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` Kuwaiti business days after ``start`` (holidays skipped, :mod:`services.calendar`)."""
    return add_business_days(start, days)


def week_start(day: date) -> date:
    """The Sunday that starts the business week containing ``day``."""
    return day - timedelta(days=(day.weekday() + 1) % 7)
