"""Settlement figures per deposit day: what should arrive, what the gateway says arrived, the difference.

For deposit day ``D`` (a business day) and the capture days ``C`` = :func:`schedule.capture_days` ``(D)``:

- **captured**: paid payments created on a day in ``C`` (the Transactions page's "captured" for those days);
- **refunds**: refunds the gateway accepted or executed (analytics' ``COUNTED_REFUND_STATES``) made on a day in
  ``C``: UPayments takes them from the balance, so they come off the next deposit;
- **expected** = captured − refunds, by method family and in total;
- **pending**: captured amounts of those payments get-deposit-status has not said "Yes" for;
- **deposited** = expected − pending when anything of the day was deposited, else 0 (the gateway gives no
  amounts, §18 F11, so the amount is ours); **difference** = expected − deposited;
- **overdue**: payments still pending more than N business days after capture (the shop's setting).

All sums are integer fils and add up to the fils with :func:`services.search.totals` and analytics' KPIs over
the same capture days (tests/unit/test_settlements.py holds them to it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col
from sqlmodel import select as model_select

from services import calendar
from services.analytics import COUNTED_REFUND_STATES
from services.db import read_engine, read_session
from services.models import FAMILIES, Deposit, Payment, PaymentStatus, Refund
from services.search import support
from services.sentence import say
from services.settlements.schedule import capture_days, expected_deposit_day, is_overdue
from services.timeutil import kuwait_day_bounds

PAYMENT: Table = Payment.__table__  # type: ignore[attr-defined]
REFUND: Table = Refund.__table__  # type: ignore[attr-defined]
DEPOSIT: Table = Deposit.__table__  # type: ignore[attr-defined]
OTHER = "other"
FAMILY_KEYS: tuple[str, ...] = (*FAMILIES, OTHER)


@dataclass
class DayRow:
    """One deposit day. Money in fils."""

    day: date
    captured_from: date
    captured_to: date
    payments: int = 0
    captured_fils: int = 0
    refunds_fils: int = 0
    expected_by_family: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAMILY_KEYS, 0))
    pending_fils: int = 0
    pending_payments: int = 0
    overdue_payments: int = 0
    overdue_fils: int = 0

    @property
    def expected_fils(self) -> int:
        return self.captured_fils - self.refunds_fils

    @property
    def deposited_fils(self) -> int:
        """What the gateway says reached the bank (our amounts): nothing until one payment of the day has."""
        return self.expected_fils - self.pending_fils if self.pending_payments < self.payments else 0

    @property
    def difference_fils(self) -> int:
        return self.expected_fils - self.deposited_fils

    @property
    def overdue(self) -> bool:
        return self.overdue_payments > 0

    @property
    def state(self) -> str:
        """``deposited`` | ``partly deposited`` | ``overdue`` | ``pending`` | ``nothing due``."""
        if self.payments == 0:
            return "nothing due"
        if self.overdue:
            return "overdue"
        if self.pending_payments == 0:
            return "deposited"
        return "partly deposited" if self.pending_payments < self.payments else "pending"


@dataclass(frozen=True)
class Settlement:
    """Deposit days ``first``..``last`` (business days only), newest first, and their sums."""

    first: date
    last: date
    today: date
    overdue_after: int
    days: list[DayRow]

    def total(self, name: str) -> int:
        return sum(int(getattr(d, name)) for d in self.days)

    @property
    def overdue_days(self) -> list[DayRow]:
        return [d for d in self.days if d.overdue]


def _family(value: str | None) -> str:
    return value if value in FAMILIES else OTHER


def settlement(engine: Engine, first: date, last: date, *, today: date, overdue_after: int) -> Settlement:
    """The deposit days between ``first`` and ``last`` (no permission check: callers check)."""
    if last < first:
        raise ValueError(say("The end of the period is before its start; pick the dates again."))
    if (last - first).days > 400:
        raise ValueError(say("Pick at most about a year of deposit days at once."))
    rows: dict[date, DayRow] = {}
    for day in calendar.days_in(first, last):
        captured = capture_days(day)
        if captured:
            rows[day] = DayRow(day, captured[0], captured[-1])
    if not rows:
        return Settlement(first, last, today, overdue_after, [])
    lo = min(r.captured_from for r in rows.values()).isoformat()
    hi = max(r.captured_to for r in rows.values()).isoformat()
    with read_engine(engine).connect() as conn:  # one snapshot for both queries
        summed = summarised_payments if support.has_support(engine) else exact_payments
        payments = summed(conn, lo, hi)
        p, r = PAYMENT.c, REFUND.c
        refunds = conn.execute(
            select(r.local_day, p.method_family, func.sum(r.amount_fils))
            .select_from(REFUND.join(PAYMENT, p.id == r.payment_pk))
            .where(r.state.in_(COUNTED_REFUND_STATES), r.local_day.between(lo, hi))
            .group_by(r.local_day, p.method_family)
        ).all()
    for local_day, family, deposited, count, amount in payments:
        captured_on = date.fromisoformat(local_day)
        row = rows.get(expected_deposit_day(captured_on))
        if row is None or not count:
            continue
        row.payments += count
        row.captured_fils += amount
        row.expected_by_family[_family(family)] += amount
        if not deposited:
            row.pending_payments += count
            row.pending_fils += amount
            if is_overdue(captured_on, today, overdue_after):
                row.overdue_payments += count
                row.overdue_fils += amount
    for local_day, family, amount in refunds:
        row = rows.get(expected_deposit_day(date.fromisoformat(local_day)))
        if row is not None:
            row.refunds_fils += int(amount or 0)
            row.expected_by_family[_family(family)] -= int(amount or 0)
    return Settlement(first, last, today, overdue_after, sorted(rows.values(), key=lambda r: r.day, reverse=True))


#: (Kuwait capture day, method family, deposited, payments, fils): paid payments of the capture days, split by
#: whether get-deposit-status has said "Yes" for them.
PaymentGroup = tuple[str, str | None, bool, int, int]


def exact_payments(conn: Connection, lo: str, hi: str) -> list[PaymentGroup]:
    """Summed from the payments themselves (PostgreSQL, and SQLite without its search support): reads every paid
    payment of the capture days ``lo``..``hi`` (ISO dates), so it grows with the payments."""
    p, d = PAYMENT.c, DEPOSIT.c
    done = func.coalesce(d.deposited, False)
    rows = conn.execute(
        select(p.local_day, p.method_family, done, func.count(), func.sum(p.amount_fils))
        .select_from(PAYMENT.outerjoin(DEPOSIT, d.payment_pk == p.id))
        .where(p.status == PaymentStatus.PAID, p.local_day.between(lo, hi))
        .group_by(p.local_day, p.method_family, done)
    ).all()
    return [(day, family, bool(done_), int(n), int(amount or 0)) for day, family, done_, n, amount in rows]


#: Count and fils of the paid payments get-deposit-status said "Yes" for, per Kuwait capture day and method
#: family ('' for none), kept exact by triggers on ``deposit`` and ``payment`` (SQLite, migration 0013).
DEPOSITED = Table(
    "settlement_deposited", MetaData(), Column("day", String, primary_key=True),
    Column("family", String, primary_key=True), Column("n", Integer), Column("amount", Integer),
)


def summarised_payments(conn: Connection, lo: str, hi: str) -> list[PaymentGroup]:
    """The same groups as :func:`exact_payments` on SQLite with its search support, from two trigger-kept
    summaries instead of the payments (a few rows a day, however many payments the day had): captured from
    ``payment_search_daily``, deposited from :data:`DEPOSITED`, pending = captured − deposited."""
    s = support.SUMMARY.c
    captured = conn.execute(
        select(s.day, s.family, func.sum(s.n), func.sum(s.amount))
        .where(s.status == PaymentStatus.PAID, s.day.between(lo, hi))
        .group_by(s.day, s.family)
    ).all()
    d = DEPOSITED.c
    deposited = {(day, family): (int(n), int(amount)) for day, family, n, amount in conn.execute(
        select(d.day, d.family, d.n, d.amount).where(d.day.between(lo, hi)))}
    out: list[PaymentGroup] = []
    for day, family, n, amount in captured:
        done_n, done_amount = deposited.pop((day, family), (0, 0))
        out.append((day, family, True, done_n, done_amount))
        out.append((day, family, False, int(n) - done_n, int(amount) - done_amount))
    unmatched = sorted(key for key, value in deposited.items() if any(value))
    if unmatched:  # deposited money the captured summary does not have: never guess, say so
        raise RuntimeError(f"the settlement summaries disagree about {unmatched}")
    return out


def month_bounds(month: date) -> tuple[date, date]:
    """First and last calendar day of ``month``'s month."""
    start = month.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return start, end


@dataclass(frozen=True)
class PaymentLine:
    """One captured payment of a deposit day, for the day's detail."""

    id: int
    order_id: str
    captured_day: date  # Kuwait day of capture
    method: str | None
    amount_fils: int
    refunded_fils: int
    deposited: bool
    deposited_at: datetime | None  # UTC, as the gateway confirmed it
    overdue: bool


def day_payments(engine: Engine, day: date, *, today: date, overdue_after: int, limit: int = 500) -> list[PaymentLine]:
    """The paid payments whose money deposit day ``day`` should bring, pending first, newest first."""
    captured = capture_days(day)
    if not captured:
        return []
    with read_session(engine) as session:
        rows = session.exec(
            model_select(Payment, Deposit)
            .outerjoin(Deposit, col(Deposit.payment_pk) == col(Payment.id))
            .where(col(Payment.status) == PaymentStatus.PAID,
                   col(Payment.local_day).between(captured[0].isoformat(), captured[-1].isoformat()),
                   # the same days as instants: the (status, created_at) index then yields the newest first and
                   # stops at ``limit``, instead of sorting all of the days' payments (13,000 a day at 5,000,000)
                   col(Payment.created_at) >= kuwait_day_bounds(captured[0])[0],
                   col(Payment.created_at) < kuwait_day_bounds(captured[-1])[1])
            .order_by(col(Payment.created_at).desc()).limit(limit)
        ).all()
    out = []
    for payment, deposit in rows:
        done = bool(deposit and deposit.deposited)
        out.append(PaymentLine(
            int(payment.id or 0), payment.order_id, date.fromisoformat(payment.local_day), payment.method,
            payment.amount_fils, payment.refunded_fils, done, deposit.deposited_at if deposit else None,
            not done and is_overdue(date.fromisoformat(payment.local_day), today, overdue_after)))
    return sorted(out, key=lambda p: (p.deposited, not p.overdue))
