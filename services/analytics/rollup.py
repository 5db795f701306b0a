"""The report's figures added up by the database from the summaries, a handful of rows per figure.

A year of the daily summary is ~60,000 rows (day × status × method × family, both periods); building a Python
object for each cost more than every query together (issue 15: report() for 365 days). Here each figure family
is one GROUP BY over the summary that drops the dimensions it does not show, so Python sees tens to a few
thousand rows. Same figures as :mod:`services.analytics.report`'s row-by-row roll-ups, to the fils (tested).
Needs the summaries (:func:`services.search.support.has_summaries`); the ``?`` placeholders work on SQLite and
PostgreSQL through :func:`services.analytics.queries._fetch_all`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from services.analytics.queries import (
    COUNTED_REFUND_STATES,
    PAYMENT,
    REFUND,
    AnalyticsFilter,
    _fetch_all,
)
from services.models import PaymentStatus
from services.search import support
from services.timeutil import kuwait_day_bounds

_FINAL = (PaymentStatus.PAID.value, PaymentStatus.FAILED.value, PaymentStatus.CANCELLED.value)


@dataclass(frozen=True)
class Rollup:
    """The report's aggregates; ``''`` is a missing family or method, days are ISO text.

    ``statuses``: (in the current period?, status, count, amount) over both periods, the previous period's
    cut day left out; ``series``: (day, family, count, amount) of captured payments in the current period;
    ``mix``: (family, method, count, amount) of the same; ``success``: (day, method, captured, decided);
    ``refunds``: (in the current period?, family, method, count, amount), the cut day left out; ``hours``:
    (UTC hour 'YYYY-MM-DD HH', captured) in the current period.
    """

    statuses: list[tuple[bool, str, int, int]]
    series: list[tuple[str, str, int, int]]
    mix: list[tuple[str, str, int, int]]
    success: list[tuple[str, str, int, int]]
    refunds: list[tuple[bool, str | None, str | None, int, int]]
    hours: list[tuple[str, int]]


def _narrow(flt: AnalyticsFilter) -> tuple[str, tuple[str, ...]]:
    """WHERE terms of the filter on a summary's ``family``/``method`` columns (group keys: same as in Python)."""
    terms: str = ""
    params: tuple[str, ...] = ()
    for column, value in (("family", flt.family), ("method", flt.method)):
        if value is not None:
            terms, params = f"{terms} AND {column} = ?", (*params, value)
    return terms, params


def rollup(conn: Connection, start: date, end: date, previous_start: date, flt: AnalyticsFilter, *,
           skip_day: date | None = None) -> Rollup:
    """The aggregates of [``previous_start``, ``end``] (the current period from ``start``); ``skip_day`` (the
    previous period's last day, counted up to a moment by the caller) left out of the totals."""
    daily = support.SUMMARY_TABLE
    terms, narrow = _narrow(flt)
    cur, lo, hi = start.isoformat(), previous_start.isoformat(), end.isoformat()
    skip = skip_day.isoformat() if skip_day is not None else ""
    statuses = _fetch_all(conn, f"SELECT day >= ?, status, sum(n), sum(amount) FROM {daily} "  # noqa: S608
                                f"WHERE day BETWEEN ? AND ? AND day != ?{terms} GROUP BY 1, 2",
                          (cur, lo, hi, skip, *narrow))
    paid = f"FROM {daily} WHERE day BETWEEN ? AND ? AND status = '{PaymentStatus.PAID.value}'{terms}"
    series = _fetch_all(conn, f"SELECT day, family, sum(n), sum(amount) {paid} "
                              "GROUP BY day, family HAVING sum(n) != 0", (cur, hi, *narrow))
    mix = _fetch_all(conn, f"SELECT family, method, sum(n), sum(amount) {paid} "
                           "GROUP BY family, method HAVING sum(n) != 0", (cur, hi, *narrow))
    final = ", ".join(f"'{s}'" for s in _FINAL)
    success = _fetch_all(conn, f"SELECT day, method, sum(CASE WHEN status = '{PaymentStatus.PAID.value}' "  # noqa: S608
                               f"THEN n ELSE 0 END), sum(n) FROM {daily} WHERE day BETWEEN ? AND ? "
                               f"AND status IN ({final}) AND method != ''{terms} "
                               "GROUP BY day, method HAVING sum(n) != 0", (cur, hi, *narrow))
    hour_lo, hour_hi = kuwait_day_bounds(start)[0], kuwait_day_bounds(end)[1]
    hours = _fetch_all(conn, f"SELECT hour, sum(n) FROM {support.HOURS_TABLE} "  # noqa: S608
                             f"WHERE hour >= ? AND hour < ?{terms} GROUP BY hour HAVING sum(n) != 0",
                       (f"{hour_lo:%Y-%m-%d %H}", f"{hour_hi:%Y-%m-%d %H}", *narrow))
    return Rollup(
        statuses=[(bool(c), s, int(n), int(a)) for c, s, n, a in statuses],
        series=[(d, f, int(n), int(a)) for d, f, n, a in series],
        mix=[(f, m, int(n), int(a)) for f, m, n, a in mix],
        success=[(d, m, int(c), int(n)) for d, m, c, n in success],
        refunds=_refunds(conn, start, previous_start, end, flt, skip),
        hours=[(h, int(n)) for h, n in hours],
    )


def _refunds(conn: Connection, start: date, previous_start: date, end: date, flt: AnalyticsFilter,
             skip: str) -> list[tuple[bool, str | None, str | None, int, int]]:
    """Counted refunds per (current period?, payment family, payment method)."""
    p, r = PAYMENT, REFUND
    current = case((r.c.local_day >= start.isoformat(), 1), else_=0)
    stmt = (
        select(current, p.c.method_family, p.c.method, func.count(), func.coalesce(func.sum(r.c.amount_fils), 0))
        .select_from(r.join(p, p.c.id == r.c.payment_pk))
        .where(r.c.local_day.between(previous_start.isoformat(), end.isoformat()), r.c.local_day != skip,
               r.c.state.in_(COUNTED_REFUND_STATES))
        .group_by(current, p.c.method_family, p.c.method)
    )
    return [(bool(c), fam, m, int(n), int(a)) for c, fam, m, n, a in conn.execute(stmt) if flt.matches(fam, m)]


def local_weekday_hour(hours: list[tuple[str, int]]) -> dict[tuple[int, int], int]:
    """Captured payments by Kuwait weekday (0 = Sunday) and hour from UTC hours ('YYYY-MM-DD HH'); Kuwait is
    UTC+3 all year. One date parse per day, not per hour."""
    weekdays: dict[str, int] = {}
    cells: dict[tuple[int, int], int] = {}
    for hour, n in hours:
        day = hour[:10]
        weekday = weekdays.get(day)
        if weekday is None:
            weekday = weekdays[day] = (date.fromisoformat(day).weekday() + 1) % 7  # Python: Monday = 0
        local = int(hour[11:13]) + 3
        key = ((weekday + 1) % 7, local - 24) if local >= 24 else (weekday, local)
        cells[key] = cells.get(key, 0) + n
    return cells

