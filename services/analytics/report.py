"""Analytics for managers: KPIs with the previous period, method mix, trends, hours, refunds.

Definitions (shown to users as tooltips, see :data:`DEFINITIONS`):
- volume counts only ``status == "paid"`` (captured) payments, on the Kuwait day they were created;
- success rate = captured / (captured + failed + cancelled); pending and expired links are left out;
- refunds are those in :data:`COUNTED_REFUND_STATES`, on the Kuwait day the refund was made;
- net = captured volume − refunded amount of the same period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.engine import Connection, Engine

from services.analytics.periods import Period, previous_period
from services.analytics.queries import (
    AnalyticsFilter,
    DailyRow,
    HourlyRow,
    HourRow,
    RefundDailyRow,
    daily_rows,
    day_rows_before,
    hour_rows,
    hourly_rows,
    prepare,
    refund_day_rows_before,
    refund_rows,
    search_filter,
)
from services.analytics.rollup import local_weekday_hour, rollup
from services.models import FAMILIES, METHOD_FAMILY, Method, PaymentStatus
from services.permissions import Action, Actor, authorize
from services.timeutil import as_utc, to_kuwait, utcnow

KUWAIT_OFFSET = timedelta(hours=3)  # Asia/Kuwait: UTC+3 all year, no DST
OTHER = "other"  # family/method of a payment whose method the gateway never told us
FINAL_FOR_SUCCESS = (PaymentStatus.PAID, PaymentStatus.FAILED, PaymentStatus.CANCELLED)
WEEKDAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
DEFINITIONS: dict[str, str] = {
    "gross": "Sum of captured (paid) payments created in the period, Kuwait days.",
    "payments": "All payment attempts created in the period, whatever their status.",
    "captured": "Payments that were captured (paid).",
    "success_rate": "Captured ÷ (captured + failed + cancelled). Pending and expired links are not counted.",
    "avg_ticket": "Captured volume ÷ number of captured payments.",
    "refunded": "Refunds made in the period (initiated or refunded at the gateway), on the day they were made.",
    "refund_rate": "Refunded amount ÷ captured volume of the same period.",
    "net": "Captured volume − refunded amount.",
}


@dataclass(frozen=True)
class Kpis:
    """Headline figures of one period; money in fils."""

    period: Period
    payments: int = 0
    captured: int = 0
    failed: int = 0
    cancelled: int = 0
    gross_fils: int = 0
    refunds: int = 0
    refunded_fils: int = 0

    @property
    def success_rate(self) -> float | None:
        decided = self.captured + self.failed + self.cancelled
        return self.captured / decided if decided else None

    @property
    def avg_ticket_fils(self) -> int | None:
        """Average captured payment, rounded half up to the fils."""
        return (2 * self.gross_fils + self.captured) // (2 * self.captured) if self.captured else None

    @property
    def refund_rate(self) -> float | None:
        return self.refunded_fils / self.gross_fils if self.gross_fils else None

    @property
    def net_fils(self) -> int:
        return self.gross_fils - self.refunded_fils


@dataclass(frozen=True)
class Change:
    """A figure now and in the previous period; ``ratio`` is the relative change (None when it was zero)."""

    current: int | float | None
    previous: int | float | None

    @property
    def diff(self) -> int | float | None:
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous

    @property
    def ratio(self) -> float | None:
        if self.current is None or not self.previous:
            return None
        return (self.current - self.previous) / abs(self.previous)


@dataclass(frozen=True)
class Comparison:
    """KPIs of a period and of the equal period before it."""

    current: Kpis
    previous: Kpis
    previous_until: datetime | None = None
    """While the period's last day is still running: the moment (UTC) the previous period is counted up to."""

    def change(self, name: str) -> Change:
        """``name`` is a :class:`Kpis` field or property, e.g. ``"gross_fils"`` or ``"success_rate"``."""
        return Change(getattr(self.current, name), getattr(self.previous, name))


@dataclass(frozen=True)
class SeriesPoint:
    """Captured payments of one family in one bucket: a Kuwait hour (a naive Kuwait-local datetime, for periods of
    two days or less), a day, or the week starting that Sunday."""

    bucket: date
    family: str
    captured: int
    volume_fils: int


@dataclass(frozen=True)
class MixRow:
    """Captured payments of one method; shares are of the period's captured total (0..1)."""

    family: str
    method: str
    captured: int
    volume_fils: int
    volume_share: float
    count_share: float


@dataclass(frozen=True)
class SuccessPoint:
    """Success rate of one method in one bucket."""

    bucket: date
    method: str
    captured: int
    decided: int

    @property
    def rate(self) -> float | None:
        return self.captured / self.decided if self.decided else None


@dataclass(frozen=True)
class HeatCell:
    """Captured payments at one Kuwait weekday (0 = Sunday … 6 = Saturday) and hour (0..23)."""

    weekday: int
    hour: int
    captured: int


@dataclass(frozen=True)
class RefundByMethod:
    family: str
    method: str
    refunds: int
    refunded_fils: int


@dataclass(frozen=True)
class Report:
    """Everything the analytics page shows, from three queries."""

    period: Period
    filters: AnalyticsFilter
    comparison: Comparison
    series: list[SeriesPoint] = field(default_factory=list)
    mix: list[MixRow] = field(default_factory=list)
    success: list[SuccessPoint] = field(default_factory=list)
    heat: list[HeatCell] = field(default_factory=list)
    refunds: list[RefundByMethod] = field(default_factory=list)

    @property
    def kpis(self) -> Kpis:
        return self.comparison.current

    @property
    def empty(self) -> bool:
        """No payment and no refund in the period."""
        return self.kpis.payments == 0 and self.kpis.refunds == 0

    def family_totals(self) -> list[MixRow]:
        """The mix rolled up to families (KNET / card / wallet, plus ``other`` if any), in that order."""
        return _family_totals(self.mix)


def kpis(engine: Engine, actor: Actor, period: Period, *, filters: AnalyticsFilter | None = None) -> Kpis:
    """Headline figures of ``period``."""
    actor = authorize(engine, actor, Action.VIEW_ANALYTICS)
    flt = filters or AnalyticsFilter()
    reader, summary = prepare(engine)
    with reader.connect() as conn:
        rows = daily_rows(conn, period.start_day, period.end_day, flt, summary=summary)
        refunds = refund_rows(conn, period.start_day, period.end_day, flt)
    return _kpis(period, rows, refunds)


def compare(engine: Engine, actor: Actor, period: Period, *, filters: AnalyticsFilter | None = None,
            now: datetime | None = None) -> Comparison:
    """KPIs of ``period`` and of the equal period before it (two queries spanning both)."""
    actor = authorize(engine, actor, Action.VIEW_ANALYTICS)
    reader, summary = prepare(engine)
    with reader.connect() as conn:
        before, until, rows, refunds = _both_periods(conn, summary, period, filters or AnalyticsFilter(), now)
    return _comparison(period, before, rows, refunds, until)


def family_series(engine: Engine, actor: Actor, period: Period, *,
                  filters: AnalyticsFilter | None = None) -> list[SeriesPoint]:
    """Captured volume and count per bucket and family (weekly buckets for periods over 62 days)."""
    actor = authorize(engine, actor, Action.VIEW_ANALYTICS)
    flt = filters or AnalyticsFilter()
    reader, summary = prepare(engine)
    with reader.connect() as conn:
        rows = daily_rows(conn, period.start_day, period.end_day, flt, summary=summary)
    return _series(period, rows, flt)


def hour_weekday(engine: Engine, actor: Actor, period: Period, *,
                 filters: AnalyticsFilter | None = None) -> list[HeatCell]:
    """Captured payments by Kuwait weekday × hour of day (all 168 cells)."""
    actor = authorize(engine, actor, Action.VIEW_ANALYTICS)
    reader, summary = prepare(engine)
    with reader.connect() as conn:
        rows = hour_rows(conn, period.start_day, period.end_day, filters or AnalyticsFilter(), summary=summary)
    return _heat(rows)


def report(engine: Engine, actor: Actor, period: Period, *, filters: AnalyticsFilter | None = None,
           now: datetime | None = None) -> Report:
    """All figures for the analytics page, in one read transaction (one snapshot): from the summaries, one query
    per figure family (:func:`summed_report`); without them, from ``payment`` grouped by day."""
    actor = authorize(engine, actor, Action.VIEW_ANALYTICS)
    flt = filters or AnalyticsFilter()
    reader, summary = prepare(engine)
    with reader.connect() as conn:
        return summed_report(conn, period, flt, now) if summary else rowwise_report(conn, False, period, flt, now)


def rowwise_report(conn: Connection, summary: bool, period: Period, flt: AnalyticsFilter,
                   now: datetime | None) -> Report:
    """:func:`report` from the daily rows (the summary's when ``summary``, else ``payment`` grouped), rolled up in
    Python: the way without summaries, and the reference :func:`summed_report` is tested against."""
    before, until, rows, refunds = _both_periods(conn, summary, period, flt, now)
    hours = hour_rows(conn, period.start_day, period.end_day, flt, summary=summary)
    hourly = hourly_rows(conn, period.start_day, period.end_day, flt) if period.hourly else None
    current = [r for r in rows if r.day >= period.start_day]
    current_refunds = [r for r in refunds if r.day >= period.start_day]
    return Report(
        period=period,
        filters=flt,
        comparison=_comparison(period, before, rows, refunds, until),
        series=_series(period, current, flt) if hourly is None else _hourly_series(period, hourly, flt),
        mix=_mix(current),
        success=_success(period, current),
        heat=_heat(hours),
        refunds=_refunds_by_method(current_refunds),
    )


def summed_report(conn: Connection, period: Period, flt: AnalyticsFilter, now: datetime | None) -> Report:
    """:func:`report` from the summaries, each figure added up by the database (:mod:`services.analytics.rollup`)."""
    before = previous_period(period)
    until = same_moment_before(period, now or utcnow())
    sums = rollup(conn, period.start_day, period.end_day, before.start_day, flt,
                  skip_day=before.end_day if until is not None else None)
    statuses: dict[tuple[bool, str], list[int]] = defaultdict(lambda: [0, 0])
    refunded: dict[bool, list[int]] = defaultdict(lambda: [0, 0])
    for current, status, n, amount in sums.statuses:
        statuses[(current, status)][0] += n
        statuses[(current, status)][1] += amount
    for current, _family, _method, n, amount in sums.refunds:
        refunded[current][0] += n
        refunded[current][1] += amount
    if until is not None:  # the previous period's last day, up to the same moment
        for row in day_rows_before(conn, before.end_day, until, flt):
            statuses[(False, row.status)][0] += row.count
            statuses[(False, row.status)][1] += row.amount_fils
        for refund in refund_day_rows_before(conn, before.end_day, until, flt):
            refunded[False][0] += refund.count
            refunded[False][1] += refund.amount_fils
    hourly = hourly_rows(conn, period.start_day, period.end_day, flt) if period.hourly else None
    return Report(
        period=period,
        filters=flt,
        comparison=Comparison(_summed_kpis(period, True, statuses, refunded),
                              _summed_kpis(before, False, statuses, refunded), until),
        series=_summed_series(period, sums.series, flt) if hourly is None else _hourly_series(period, hourly, flt),
        mix=_mix([DailyRow(period.start_day, family or None, method or None, PaymentStatus.PAID, n, amount)
                  for family, method, n, amount in sums.mix]),
        success=_summed_success(period, sums.success),
        heat=[HeatCell(d, h, n) for (d, h), n in sorted(_all_cells(local_weekday_hour(sums.hours)).items())],
        refunds=_refunds_by_method([RefundDailyRow(period.start_day, family, method, n, amount)
                                    for current, family, method, n, amount in sums.refunds if current]),
    )


def _summed_kpis(period: Period, current: bool, statuses: dict[tuple[bool, str], list[int]],
                 refunded: dict[bool, list[int]]) -> Kpis:
    def of(status: str) -> list[int]:
        return statuses.get((current, status), [0, 0])

    return Kpis(
        period=period,
        payments=sum(n for (cur, _), (n, _a) in statuses.items() if cur == current),
        captured=of(PaymentStatus.PAID)[0],
        failed=of(PaymentStatus.FAILED)[0],
        cancelled=of(PaymentStatus.CANCELLED)[0],
        gross_fils=of(PaymentStatus.PAID)[1],
        refunds=refunded.get(current, [0, 0])[0],
        refunded_fils=refunded.get(current, [0, 0])[1],
    )


def _buckets(period: Period, days: Iterable[str]) -> dict[str, date]:
    """Each ISO day's chart bucket, parsed once per day."""
    return {day: period.bucket(date.fromisoformat(day)) for day in set(days)}


def _summed_series(period: Period, rows: list[tuple[str, str, int, int]], flt: AnalyticsFilter) -> list[SeriesPoint]:
    bucket = _buckets(period, (day for day, *_ in rows))
    totals: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    for day, family, n, amount in rows:
        total = totals[(bucket[day], family or OTHER)]
        total[0] += n
        total[1] += amount
    families = _families(flt, {family for _, family in totals})
    return [
        SeriesPoint(key, family, *totals.get((key, family), (0, 0)))
        for key in period.buckets()
        for family in families
    ]


def _summed_success(period: Period, rows: list[tuple[str, str, int, int]]) -> list[SuccessPoint]:
    bucket = _buckets(period, (day for day, *_ in rows))
    totals: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    for day, method, captured, decided in rows:
        total = totals[(bucket[day], method)]
        total[0] += captured
        total[1] += decided
    return [
        SuccessPoint(key, method, captured, decided)
        for (key, method), (captured, decided) in sorted(totals.items(), key=lambda kv: (_method_order(kv[0][1]),
                                                                                        kv[0][0]))
    ]


def _all_cells(cells: dict[tuple[int, int], int]) -> dict[tuple[int, int], int]:
    """All 168 weekday × hour cells, zero where nothing was captured."""
    return {(d, h): cells.get((d, h), 0) for d in range(7) for h in range(24)}


def transactions_query(period: Period, filters: AnalyticsFilter | None = None) -> dict[str, str]:
    """URL parameters of the transactions page showing the payments behind these figures."""
    from services.search import filter_to_query

    return filter_to_query(search_filter(period.start_day, period.end_day, filters or AnalyticsFilter()))


# --- roll-ups of the aggregate rows (a few thousand at most) -------------------------------------------------


def _kpis(period: Period, rows: list[DailyRow], refunds: list[RefundDailyRow]) -> Kpis:
    by_status: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    payments = 0
    for row in rows:
        if period.start_day <= row.day <= period.end_day:
            payments += row.count
            total = by_status[row.status]
            total[0] += row.count
            total[1] += row.amount_fils
    in_period = [r for r in refunds if period.start_day <= r.day <= period.end_day]
    return Kpis(
        period=period,
        payments=payments,
        captured=by_status[PaymentStatus.PAID][0],
        failed=by_status[PaymentStatus.FAILED][0],
        cancelled=by_status[PaymentStatus.CANCELLED][0],
        gross_fils=by_status[PaymentStatus.PAID][1],
        refunds=sum(r.count for r in in_period),
        refunded_fils=sum(r.amount_fils for r in in_period),
    )


def _comparison(period: Period, before: Period, rows: list[DailyRow], refunds: list[RefundDailyRow],
                until: datetime | None = None) -> Comparison:
    return Comparison(_kpis(period, rows, refunds), _kpis(before, rows, refunds), until)


def same_moment_before(period: Period, now: datetime) -> datetime | None:
    """While ``period``'s last day is today in Kuwait, the same moment one period earlier (UTC), else None.

    The previous period is then counted up to that moment, so a morning is compared with a morning rather than
    with a whole day (Kuwait keeps no daylight saving: a day is always 24 hours).
    """
    if period.end_day != to_kuwait(now).date():
        return None
    return as_utc(now) - timedelta(days=period.days)


def _both_periods(conn: Connection, summary: bool, period: Period, flt: AnalyticsFilter, now: datetime | None,
                  ) -> tuple[Period, datetime | None, list[DailyRow], list[RefundDailyRow]]:
    """The previous period, the moment it is counted up to (or None), and the daily and refund rows of both."""
    before = previous_period(period)
    until = same_moment_before(period, now or utcnow())
    rows = daily_rows(conn, before.start_day, period.end_day, flt, summary=summary)
    refunds = refund_rows(conn, before.start_day, period.end_day, flt)
    if until is not None:
        rows, refunds = _cut_previous(conn, rows, refunds, before, until, flt)
    return before, until, rows, refunds


def _cut_previous(conn: Connection, rows: list[DailyRow], refunds: list[RefundDailyRow], before: Period,
                  until: datetime, flt: AnalyticsFilter) -> tuple[list[DailyRow], list[RefundDailyRow]]:
    """The previous period's last day replaced by its part before ``until``."""
    day = before.end_day
    return ([r for r in rows if r.day != day] + day_rows_before(conn, day, until, flt),
            [r for r in refunds if r.day != day] + refund_day_rows_before(conn, day, until, flt))


def _families(flt: AnalyticsFilter, present: set[str]) -> list[str]:
    if flt.method is not None:
        return [METHOD_FAMILY[flt.method]]
    if flt.family is not None:
        return [flt.family]
    return [*FAMILIES, *([OTHER] if OTHER in present else [])]


def _series(period: Period, rows: list[DailyRow], flt: AnalyticsFilter) -> list[SeriesPoint]:
    totals: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        if row.status == PaymentStatus.PAID and period.start_day <= row.day <= period.end_day:
            total = totals[(period.bucket(row.day), row.family or OTHER)]
            total[0] += row.count
            total[1] += row.amount_fils
    families = _families(flt, {family for _, family in totals})
    return [
        SeriesPoint(bucket, family, *totals.get((bucket, family), (0, 0)))
        for bucket in period.buckets()
        for family in families
    ]


def _hourly_series(period: Period, rows: list[HourlyRow], flt: AnalyticsFilter) -> list[SeriesPoint]:
    """Captured payments per Kuwait clock hour and family; buckets are naive Kuwait-local datetimes."""
    totals: dict[tuple[datetime, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        if row.status == PaymentStatus.PAID:
            local = (as_utc(row.hour_utc) + KUWAIT_OFFSET).replace(tzinfo=None)
            total = totals[(local, row.family or OTHER)]
            total[0] += row.count
            total[1] += row.amount_fils
    families = _families(flt, {family for _, family in totals})
    return [SeriesPoint(hour, family, *totals.get((hour, family), (0, 0))) for hour in period.hours()
            for family in families]


def _method_order(method: str) -> int:
    values = [m.value for m in Method]
    return values.index(method) if method in values else len(values)


def _mix(rows: list[DailyRow]) -> list[MixRow]:
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        if row.status == PaymentStatus.PAID:
            total = totals[(row.family or OTHER, row.method or OTHER)]
            total[0] += row.count
            total[1] += row.amount_fils
    count = sum(t[0] for t in totals.values())
    volume = sum(t[1] for t in totals.values())
    return [
        MixRow(family, method, n, fils, fils / volume if volume else 0.0, n / count if count else 0.0)
        for (family, method), (n, fils) in sorted(totals.items(), key=lambda kv: _method_order(kv[0][1]))
    ]


def _family_totals(mix: list[MixRow]) -> list[MixRow]:
    totals: dict[str, list[float]] = {}
    for row in mix:
        total = totals.setdefault(row.family, [0, 0, 0.0, 0.0])
        total[0] += row.captured
        total[1] += row.volume_fils
        total[2] += row.volume_share
        total[3] += row.count_share
    order = [*FAMILIES, OTHER]
    return [
        MixRow(family, family, int(t[0]), int(t[1]), t[2], t[3])
        for family, t in sorted(totals.items(), key=lambda kv: order.index(kv[0]))
    ]


def _success(period: Period, rows: list[DailyRow]) -> list[SuccessPoint]:
    totals: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        if row.status in FINAL_FOR_SUCCESS and row.method is not None:
            total = totals[(period.bucket(row.day), row.method)]
            total[0] += row.count if row.status == PaymentStatus.PAID else 0
            total[1] += row.count
    return [
        SuccessPoint(bucket, method, captured, decided)
        for (bucket, method), (captured, decided) in sorted(totals.items(), key=lambda kv: (_method_order(kv[0][1]),
                                                                                           kv[0][0]))
    ]


def _heat(rows: list[HourRow]) -> list[HeatCell]:
    cells = dict.fromkeys(((d, h) for d in range(7) for h in range(24)), 0)
    for row in rows:
        local = row.hour_utc + KUWAIT_OFFSET
        weekday = (local.weekday() + 1) % 7  # Python: Monday=0; ours: Sunday=0
        cells[(weekday, local.hour)] += row.count
    return [HeatCell(d, h, n) for (d, h), n in sorted(cells.items())]


def _refunds_by_method(rows: list[RefundDailyRow]) -> list[RefundByMethod]:
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        total = totals[(row.family or OTHER, row.method or OTHER)]
        total[0] += row.count
        total[1] += row.amount_fils
    return [
        RefundByMethod(family, method, n, fils)
        for (family, method), (n, fils) in sorted(totals.items(), key=lambda kv: _method_order(kv[0][1]))
    ]
