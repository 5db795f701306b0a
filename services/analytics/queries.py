"""The SQL behind analytics: three GROUP BY queries on indexed columns, portable between SQLite and PostgreSQL.

Everything heavy happens in the database; Python only rolls up the few thousand aggregate rows they return.
On SQLite the daily figures come from the search's trigger-maintained summary (``payment_search_daily``, see
:mod:`services.search.support`), one row per Kuwait day × status × method; elsewhere from ``payment`` itself
through the covering index :data:`ANALYTICS_INDEX_NAME`. Both give identical rows (tested).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, inspect, select, text
from sqlalchemy.engine import Connection, Engine

from services import refund_state
from services.db import read_engine
from services.models import FAMILIES, METHOD_FAMILY, Method, Payment, PaymentStatus, Refund
from services.search import SearchFilter, support
from services.sentence import say
from services.timeutil import as_utc, kuwait_day_bounds

PAYMENT: Table = Payment.__table__  # type: ignore[attr-defined]
REFUND: Table = Refund.__table__  # type: ignore[attr-defined]

#: The one definition of "refunded money" for analytics: refunds the gateway accepted (initiated) or completed
#: (refunded). Requests awaiting approval, rejected, cancelled or failed ones moved no money; sending/uncertain
#: ones are not settled yet and count once reconciliation moves them to initiated/refunded.
#: A refund counts on the Kuwait day it was made (``Refund.local_day``), not on the day of the payment.
#: Taken from services.refund_state, the rule the payment's own refund state and the Transactions list follow.
COUNTED_REFUND_STATES: tuple[str, ...] = tuple(sorted(refund_state.COUNTED))

#: Covering index for the daily aggregate (GROUP BY follows its prefix, so SQLite streams it without sorting).
#: Proposed for ``Payment.__table_args__``; :func:`ensure_indexes` creates it on databases that lack it.
ANALYTICS_INDEX_NAME = "ix_payment_analytics"
ANALYTICS_INDEX_COLUMNS = ("local_day", "method_family", "method", "status", "amount_fils")


@dataclass(frozen=True)
class AnalyticsFilter:
    """Optional narrowing by method family and/or method; same meaning as the transactions search's filters."""

    family: str | None = None
    method: str | None = None

    def __post_init__(self) -> None:
        if self.family is not None and self.family not in FAMILIES:
            raise ValueError(say("Unknown payment family {value}; choose one of: {choices}.", value=repr(self.family),
                                 choices=", ".join(FAMILIES)))
        if self.method is not None:
            if self.method not in {m.value for m in Method}:
                raise ValueError(say("Unknown payment method {value}.", value=repr(self.method)))
            if self.family is not None and METHOD_FAMILY[self.method] != self.family:
                raise ValueError(say("{method} is not a {family} method.", method=self.method, family=self.family))

    def matches(self, family: str | None, method: str | None) -> bool:
        """Whether a payment of this family and method passes the filter (the same test as :meth:`clauses`)."""
        return (self.family is None or family == self.family) and (self.method is None or method == self.method)

    def clauses(self, table: Table) -> list[ColumnElement[bool]]:
        """WHERE terms on ``payment`` columns (``method_family``/``method``)."""
        out: list[ColumnElement[bool]] = []
        if self.family is not None:
            out.append(table.c.method_family == self.family)
        if self.method is not None:
            out.append(table.c.method == self.method)
        return out


def search_filter(start: date, end: date, flt: AnalyticsFilter) -> SearchFilter:
    """The transactions search's filter for the same payments: its totals equal the analytics figures (tested)."""
    return SearchFilter(
        day_from=start, day_to=end,
        families=frozenset({flt.family}) if flt.family else frozenset(),
        methods=frozenset({flt.method}) if flt.method else frozenset(),
    )


@dataclass(frozen=True)
class DailyRow:
    """Payments of one Kuwait day, method and status: how many, and their total amount."""

    day: date
    family: str | None
    method: str | None
    status: str
    count: int
    amount_fils: int


@dataclass(frozen=True)
class RefundDailyRow:
    """Counted refunds made on one Kuwait day for payments of one method."""

    day: date
    family: str | None
    method: str | None
    count: int
    amount_fils: int


@dataclass(frozen=True)
class HourRow:
    """Captured payments created in one UTC clock hour (``hour_utc`` is that hour's start, tz-aware)."""

    hour_utc: datetime
    count: int


def daily_rows(conn: Connection, start: date, end: date, flt: AnalyticsFilter, *,
               summary: bool = False) -> list[DailyRow]:
    """Counts and sums per (local_day, family, method, status) for Kuwait days ``start``..``end``.

    ``summary`` reads the search's daily summary table (SQLite, when :func:`services.search.support.has_support`)
    instead of grouping ``payment``. The filter is applied to the aggregate rows, not in WHERE: family and method
    are group keys, so the result is identical, and the query keeps the plan that streams the covering index (an
    equality on method_family would lure SQLite's planner, which has no statistics, onto a narrower index).
    """
    if summary:
        rows = _fetch_all(conn, f"SELECT day, family, method, status, n, amount FROM {support.SUMMARY_TABLE} "  # noqa: S608
                                "WHERE day BETWEEN ? AND ? AND n != 0", (start.isoformat(), end.isoformat()))
        # The summary stores a missing method/family as '' (it is part of its primary key).
        return [
            DailyRow(date.fromisoformat(d), fam or None, m or None, st, int(n), int(a))
            for d, fam, m, st, n, a in rows
            if flt.matches(fam or None, m or None)
        ]
    return _payment_rows(conn, flt, PAYMENT.c.local_day.between(start.isoformat(), end.isoformat()))


def _fetch_all(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Every row of a SQLite summary read, straight from the driver in this connection's transaction: tens of
    thousands of small rows for a year, where SQLAlchemy's per-row processing would cost more than the query."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        return list(cursor.execute(sql, params).fetchall())
    finally:
        cursor.close()


def refund_rows(conn: Connection, start: date, end: date, flt: AnalyticsFilter) -> list[RefundDailyRow]:
    """Counted refunds per (refund local_day, payment family, payment method) for Kuwait days ``start``..``end``."""
    return _refund_rows(conn, flt, REFUND.c.local_day.between(start.isoformat(), end.isoformat()))


def day_rows_before(conn: Connection, day: date, until: datetime, flt: AnalyticsFilter) -> list[DailyRow]:
    """Like :func:`daily_rows` for one Kuwait day, counting only payments created before ``until`` (UTC)."""
    return _payment_rows(conn, flt, PAYMENT.c.local_day == day.isoformat(), PAYMENT.c.created_at < until)


def refund_day_rows_before(conn: Connection, day: date, until: datetime, flt: AnalyticsFilter,
                           ) -> list[RefundDailyRow]:
    """Like :func:`refund_rows` for one Kuwait day, counting only refunds made before ``until`` (UTC)."""
    return _refund_rows(conn, flt, REFUND.c.local_day == day.isoformat(), REFUND.c.created_at < until)


def _payment_rows(conn: Connection, flt: AnalyticsFilter, *where: ColumnElement[bool]) -> list[DailyRow]:
    """``payment`` grouped by (local_day, family, method, status) under ``where``; the filter on the group keys."""
    p = PAYMENT
    keys = (p.c.local_day, p.c.method_family, p.c.method, p.c.status)
    stmt = select(*keys, func.count(), func.coalesce(func.sum(p.c.amount_fils), 0)).where(*where).group_by(*keys)
    return [
        DailyRow(date.fromisoformat(d), fam, m, s, int(n), int(a))
        for d, fam, m, s, n, a in conn.execute(stmt)
        if flt.matches(fam, m)
    ]


def _refund_rows(conn: Connection, flt: AnalyticsFilter, *where: ColumnElement[bool]) -> list[RefundDailyRow]:
    """Counted refunds grouped by (refund local_day, payment family, payment method) under ``where``."""
    p, r = PAYMENT, REFUND
    keys = (r.c.local_day, p.c.method_family, p.c.method)
    stmt = (
        select(*keys, func.count(), func.coalesce(func.sum(r.c.amount_fils), 0))
        .select_from(r.join(p, p.c.id == r.c.payment_pk))
        .where(*where, r.c.state.in_(COUNTED_REFUND_STATES))
        .group_by(*keys)
    )
    return [
        RefundDailyRow(date.fromisoformat(d), fam, m, int(n), int(a))
        for d, fam, m, n, a in conn.execute(stmt)
        if flt.matches(fam, m)  # group keys: same result as a WHERE term, as in daily_rows
    ]


def hour_rows(conn: Connection, start: date, end: date, flt: AnalyticsFilter, *,
              summary: bool = False) -> list[HourRow]:
    """Captured payments per UTC clock hour within [start 00:00, end+1 00:00) Kuwait.

    ``summary`` (SQLite with the search support) reads the trigger-kept hourly summary (``payment_search_hours``,
    migration 0006): at most 24 rows a day per method. Otherwise the created_at range, the same set of rows as
    ``local_day BETWEEN start AND end``, lets the (status, created_at) index cover the scan. Kuwait days start on
    a whole UTC hour, so both give the same rows. Callers add 3 h (Kuwait has no DST) to get the local hour.
    """
    lo, hi = kuwait_day_bounds(start)[0], kuwait_day_bounds(end)[1]
    if summary:
        where, params = "hour >= ? AND hour < ?", [f"{lo:%Y-%m-%d %H}", f"{hi:%Y-%m-%d %H}"]
        for column, value in (("family", flt.family), ("method", flt.method)):  # group keys: same as in SQL
            if value is not None:
                where, params = f"{where} AND {column} = ?", [*params, value]
        rows = _fetch_all(conn, f"SELECT hour, sum(n) FROM {support.HOURS_TABLE} WHERE {where} "  # noqa: S608
                                "GROUP BY hour HAVING sum(n) != 0", tuple(params))
        return [HourRow(_parse_hour(hour), int(n)) for hour, n in rows]
    p = PAYMENT
    hour = _utc_hour(conn, p)
    stmt = (
        select(hour, func.count())
        .where(and_(p.c.status == PaymentStatus.PAID, p.c.created_at >= lo, p.c.created_at < hi), *flt.clauses(p))
        .group_by(hour)
    )
    return [HourRow(_parse_hour(h), int(n)) for h, n in conn.execute(stmt)]


@dataclass(frozen=True)
class HourlyRow:
    """Payments of one UTC clock hour, method and status: how many, and their total amount (short periods)."""

    hour_utc: datetime
    family: str | None
    method: str | None
    status: str
    count: int
    amount_fils: int


def hourly_rows(conn: Connection, start: date, end: date, flt: AnalyticsFilter) -> list[HourlyRow]:
    """Payments per (UTC hour, family, method, status) within [start 00:00, end+1 00:00) Kuwait: the same rows as
    ``local_day BETWEEN start AND end``, so the hourly series adds up to the period's KPIs exactly. A plain query
    over the ``created_at`` range, used for periods of two days or less only."""
    p = PAYMENT
    lo, hi = kuwait_day_bounds(start)[0], kuwait_day_bounds(end)[1]
    hour = _utc_hour(conn, p)
    stmt = (
        select(hour, p.c.method_family, p.c.method, p.c.status, func.count(),
               func.coalesce(func.sum(p.c.amount_fils), 0))
        .where(p.c.created_at >= lo, p.c.created_at < hi, *flt.clauses(p))
        .group_by(hour, p.c.method_family, p.c.method, p.c.status)
    )
    return [HourlyRow(_parse_hour(h), family, method, str(status), int(n), int(amount))
            for h, family, method, status, n, amount in conn.execute(stmt)]


def _utc_hour(conn: Connection, p: Table) -> ColumnElement[Any]:
    """The UTC clock hour of ``created_at`` (dialect switch: the only non-portable expression here)."""
    if conn.dialect.name == "sqlite":
        # SQLAlchemy stores SQLite datetimes as UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'; the first 13 characters
        # are the hour, and cutting text is several times cheaper than strftime() over 200k rows.
        return func.substr(p.c.created_at, 1, 13)
    return func.date_trunc("hour", func.timezone("UTC", p.c.created_at))


def _parse_hour(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return as_utc(value)
    return datetime.fromisoformat(f"{value[:13]}:00").replace(tzinfo=UTC)  # 'YYYY-MM-DD HH' (or with a T)


def prepare(engine: Engine) -> tuple[Engine, bool]:
    """The engine to read with and whether the daily summary may be used.

    SQLite: creates the search's summary, triggers and covering indexes if missing
    (:func:`support.ensure_search_support`, cheap once done) and reads through an engine that never takes the
    write lock. Other databases get no DDL from a page view (a CREATE INDEX would block writers on a big table):
    :data:`ANALYTICS_INDEX_NAME` belongs in the schema or a migration (:func:`ensure_indexes`).
    """
    support.ensure_search_support(engine)  # a no-op on other databases
    return read_engine(engine), support.has_support(engine)


def ensure_indexes(engine: Engine) -> bool:
    """Create the analytics covering index if missing (idempotent); returns whether it was created now."""
    with warnings.catch_warnings():  # SQLAlchemy warns about expression indexes it cannot reflect; irrelevant
        warnings.simplefilter("ignore")
        existing = {ix["name"] for ix in inspect(engine).get_indexes(PAYMENT.name)}
    if ANALYTICS_INDEX_NAME in existing:
        return False
    columns: Sequence[str] = ANALYTICS_INDEX_COLUMNS
    with engine.begin() as conn:
        conn.execute(text(
            f"CREATE INDEX IF NOT EXISTS {ANALYTICS_INDEX_NAME} ON {PAYMENT.name} ({', '.join(columns)})"
        ))
    return True
