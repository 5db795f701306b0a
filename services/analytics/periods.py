"""Reporting periods: Kuwait calendar days, inclusive at both ends, and the buckets charts group them into."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.sentence import N_, Count, say
from services.timeutil import kuwait_day_bounds, week_start

#: Preset key → label, in menu order. "this_week" starts on Sunday (the Kuwaiti business week is Sun–Thu) and
#: runs to today, so Friday/Saturday sales of an online shop still count in the week they happen.
PRESETS: dict[str, str] = {
    "today": N_("Today"),
    "yesterday": N_("Yesterday"),
    "this_week": N_("This week (from Sunday)"),
    "last_7_days": N_("Last 7 days"),
    "last_30_days": N_("Last 30 days"),
    "last_90_days": N_("Last 90 days"),
    "this_month": N_("This month"),
    "custom": N_("Custom range"),
}
DEFAULT_PRESET = "last_30_days"
#: Periods longer than this are charted by week (Sunday-start) instead of by day.
MAX_DAILY_DAYS = 62
#: Periods of at most this many days are charted by Kuwait hour (today, yesterday, any two days).
MAX_HOURLY_DAYS = 2
#: Longest custom range we aggregate (two years of days keeps every chart readable).
MAX_DAYS = 732


@dataclass(frozen=True)
class Period:
    """Kuwait calendar days ``start_day``..``end_day``, both included."""

    start_day: date
    end_day: date

    def __post_init__(self) -> None:
        if self.end_day < self.start_day:
            raise ValueError(say("The period's end is before its start; pick the dates again."))
        if self.days > MAX_DAYS:
            raise ValueError(say("Pick a period of at most {limit} days.", limit=Count(MAX_DAYS)))

    @property
    def days(self) -> int:
        return (self.end_day - self.start_day).days + 1

    @property
    def hourly(self) -> bool:
        """Whether charts bucket this period by Kuwait hour (two days or less)."""
        return self.days <= MAX_HOURLY_DAYS

    @property
    def grain(self) -> str:
        """``hour``, ``day`` or ``week``: the chart bucket of this period."""
        return "hour" if self.hourly else "week" if self.weekly else "day"

    def hours(self) -> list[datetime]:
        """Every Kuwait clock hour of the period, as naive Kuwait-local datetimes (what a chart axis shows)."""
        first = datetime.combine(self.start_day, datetime.min.time())
        return [first + timedelta(hours=h) for h in range(24 * self.days)]

    @property
    def weekly(self) -> bool:
        """Whether charts bucket this period by week (Sunday-start) rather than by day."""
        return self.days > MAX_DAILY_DAYS

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """[start, end) in UTC: the same rows as ``local_day BETWEEN start_day AND end_day`` (the search's filter)."""
        return kuwait_day_bounds(self.start_day)[0], kuwait_day_bounds(self.end_day)[1]

    def day_keys(self) -> tuple[str, str]:
        """The ``local_day`` strings of the first and last day."""
        return self.start_day.isoformat(), self.end_day.isoformat()

    def label(self) -> str:
        if self.start_day == self.end_day:
            return self.start_day.isoformat()
        return f"{self.start_day.isoformat()} – {self.end_day.isoformat()}"

    def bucket(self, day: date) -> date:
        """The chart bucket of ``day``: the day itself, or the Sunday starting its week for long periods."""
        return week_start(day) if self.weekly else day

    def buckets(self) -> list[date]:
        """Every bucket of the period in order (the first week may start before ``start_day``)."""
        out: list[date] = []
        day = self.start_day
        while day <= self.end_day:
            key = self.bucket(day)
            if not out or out[-1] != key:
                out.append(key)
            day += timedelta(days=1)
        return out


def period_for(preset: str, today: date, custom: tuple[date, date] | None = None) -> Period:
    """The period a preset means on ``today`` (a Kuwait date); ``custom`` is required for ``"custom"``."""
    if preset == "today":
        return Period(today, today)
    if preset == "yesterday":
        return Period(today - timedelta(days=1), today - timedelta(days=1))
    if preset == "this_week":
        return Period(week_start(today), today)
    if preset in ("last_7_days", "last_30_days", "last_90_days"):
        days = int(preset.split("_")[1])
        return Period(today - timedelta(days=days - 1), today)
    if preset == "this_month":
        return Period(today.replace(day=1), today)
    if preset == "custom":
        if custom is None:
            raise ValueError(say("Pick a start and an end date for a custom period."))
        return Period(custom[0], custom[1])
    raise ValueError(say("Unknown period {value}; choose one of: {choices}.", value=repr(preset),
                         choices=", ".join(PRESETS)))


def previous_period(period: Period) -> Period:
    """The period of equal length that ends the day before ``period`` starts."""
    end = period.start_day - timedelta(days=1)
    return Period(end - timedelta(days=period.days - 1), end)
