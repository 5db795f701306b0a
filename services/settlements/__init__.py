"""Settlements: when captured money should reach the shop's bank, whether it did, and the bank's own word on it.

This package owns:

- the deposit schedule (:mod:`.schedule`): next Kuwaiti business day after capture (:mod:`services.calendar`),
  and when a missing deposit is overdue;
- deposit status per payment (:mod:`.deposits`): get-deposit-status asked in the lowest lane of the shared
  status-look-up budget, stored in the ``deposit`` table (only ``"Yes"`` means deposited, §18 F11);
- the settlement figures per deposit day and per month, and their CSV for the accountant (:mod:`.report`);
- bank statement reading (:mod:`.statement`) and matching (:mod:`.matching`).

Pages call the functions below; each re-checks the person (:func:`services.permissions.authorize`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from sqlalchemy.engine import Engine

from services import audit, calendar
from services.audit import audited_stream, csv_line
from services.db import session_scope
from services.money import format_amount
from services.permissions import Action, Actor, authorize
from services.sentence import say, sentence_of
from services.settlements.deposits import (
    DepositReport,
    check_payment,
    deposit_of,
    due_for_check,
    poll_deposits,
)
from services.settlements.matching import (
    MATCHED,
    MISSING,
    NOT_UPAYMENTS,
    PARTLY,
    UNMATCHED,
    MatchLine,
    MatchResult,
    match,
)
from services.settlements.report import FAMILY_KEYS, DayRow, PaymentLine, Settlement, month_bounds
from services.settlements.report import day_payments as _day_payments
from services.settlements.report import settlement as _settlement
from services.settlements.schedule import capture_days, expected_deposit_day, is_overdue
from services.settlements.statement import MAX_BYTES, Statement, StatementError, StatementLine, read_statement
from services.timeutil import kuwait_today

__all__ = [
    "FAMILY_KEYS",
    "MATCHED",
    "MAX_BYTES",
    "MISSING",
    "NOT_UPAYMENTS",
    "PARTLY",
    "UNMATCHED",
    "DayRow",
    "DepositReport",
    "MatchLine",
    "MatchResult",
    "PaymentLine",
    "Settlement",
    "SettlementError",
    "Statement",
    "StatementError",
    "StatementLine",
    "capture_days",
    "check_payment",
    "day_payments",
    "deposit_of",
    "due_for_check",
    "expected_deposit_day",
    "export_csv",
    "is_overdue",
    "match_statement",
    "month_settlement",
    "poll_deposits",
    "recent_months",
    "recent_settlement",
    "settlement_between",
]

#: Deposit days shown by default: about two business weeks back, and the next business day ahead.
RECENT_DAYS = 14
_CSV_COLUMNS = ("deposit_day", "captured_from", "captured_to", "payments", "captured_kwd", "refunds_kwd",
                "expected_kwd", "expected_knet_kwd", "expected_card_kwd", "expected_wallet_kwd",
                "expected_other_kwd", "deposited_kwd", "difference_kwd", "pending_payments", "overdue_payments",
                "state")


class SettlementError(ValueError):
    """A settlements request that cannot be answered; ``str()`` says why and what to do."""


def _overdue_after(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 20:
        raise SettlementError(say("The overdue limit must be 1 to 20 business days; an admin must fix the settings."))
    return value


def settlement_between(engine: Engine, actor: Actor, first: date, last: date, *, overdue_after: int,
                       today: date | None = None) -> Settlement:
    """Deposit days ``first``..``last`` (inclusive), newest first."""
    authorize(engine, actor, Action.VIEW_SETTLEMENTS)
    if not isinstance(first, date) or not isinstance(last, date):
        raise SettlementError(say("Pick the first and last day."))
    try:
        return _settlement(engine, first, last, today=today or kuwait_today(),
                           overdue_after=_overdue_after(overdue_after))
    except SettlementError:
        raise
    except ValueError as exc:
        raise SettlementError(sentence_of(exc)) from None


def recent_months(today: date, count: int) -> list[date]:
    """The first days of the ``count`` months up to ``today``'s, newest first (the month view's choices)."""
    months = [today.replace(day=1)]
    while len(months) < count:
        months.append((months[-1] - timedelta(days=1)).replace(day=1))
    return months


def recent_settlement(engine: Engine, actor: Actor, *, overdue_after: int, today: date | None = None) -> Settlement:
    """The last :data:`RECENT_DAYS` calendar days of deposit days and the next business day."""
    today = today or kuwait_today()
    return settlement_between(engine, actor, today - timedelta(days=RECENT_DAYS), calendar.next_business_day(today),
                              overdue_after=overdue_after, today=today)


def month_settlement(engine: Engine, actor: Actor, month: date, *, overdue_after: int,
                     today: date | None = None) -> Settlement:
    """Every deposit day of ``month``'s calendar month."""
    first, last = month_bounds(month)
    return settlement_between(engine, actor, first, last, overdue_after=overdue_after, today=today)


def day_payments(engine: Engine, actor: Actor, day: date, *, overdue_after: int,
                 today: date | None = None) -> list[PaymentLine]:
    """The captured payments one deposit day should bring, pending and overdue first."""
    authorize(engine, actor, Action.VIEW_SETTLEMENTS)
    return _day_payments(engine, day, today=today or kuwait_today(), overdue_after=_overdue_after(overdue_after))


def export_csv(engine: Engine, actor: Actor, first: date, last: date, *, overdue_after: int,
               today: date | None = None) -> Iterator[str]:
    """The deposit days as CSV for the accountant (amounts in KWD, 3 decimals), audited once produced."""
    actor = authorize(engine, actor, Action.EXPORT_SETTLEMENTS)
    report = settlement_between(engine, actor, first, last, overdue_after=overdue_after, today=today)

    def lines() -> Iterator[str]:
        yield csv_line(list(_CSV_COLUMNS))
        for d in sorted(report.days, key=lambda r: r.day):
            fam = d.expected_by_family
            yield csv_line([d.day.isoformat(), d.captured_from.isoformat(), d.captured_to.isoformat(), d.payments,
                            format_amount(d.captured_fils), format_amount(d.refunds_fils),
                            format_amount(d.expected_fils), *(format_amount(fam[k]) for k in FAMILY_KEYS),
                            format_amount(d.deposited_fils), format_amount(d.difference_fils), d.pending_payments,
                            d.overdue_payments, d.state])

    return audited_stream(engine, lines(), by=actor.email, action="settlements_exported",
                          target=f"settlements:{first.isoformat()}..{last.isoformat()}",
                          after={"first": first.isoformat(), "last": last.isoformat()})


def match_statement(engine: Engine, actor: Actor, data: bytes, filename: str, *, tolerance_fils: int,
                    overdue_after: int, today: date | None = None) -> MatchResult:
    """Read an uploaded bank statement and match its UPayments credits to the expected deposits.

    A refused file raises :class:`StatementError` and records nothing; a read one is audited (counts only).
    """
    actor = authorize(engine, actor, Action.MATCH_STATEMENT)
    if isinstance(tolerance_fils, bool) or not isinstance(tolerance_fils, int) or not 0 <= tolerance_fils <= 10**9:
        raise SettlementError(say("The tolerance must be an amount of zero or more."))
    statement = read_statement(data, filename)
    if not statement.lines:
        raise StatementError(say("The statement has no credit lines; check that it is the account UPayments pays "
                                 "into."))
    first = min(line.day for line in statement.lines)
    last = max(line.day for line in statement.lines)
    if (last - first).days > 400:
        raise StatementError(say("The statement covers more than a year; download a shorter period."))
    report = settlement_between(engine, actor, first, last, overdue_after=overdue_after, today=today)
    result = match(statement, report, tolerance_fils=tolerance_fils)
    with session_scope(engine) as session:
        audit.record(session, actor=actor.email, action="statement_matched", target="settlements",
                     after={"first": first.isoformat(), "last": last.isoformat(), "lines": len(statement.lines),
                            "tolerance_fils": tolerance_fils,
                            **{status: result.count(status) for status in (MATCHED, PARTLY, UNMATCHED, MISSING)}})
    return result
