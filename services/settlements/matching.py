"""Matching a bank statement's UPayments credit lines to the deposits we expect, by day and amount.

For each deposit day the statement covers, the UPayments credits booked that day are added up and compared with
the day's expected deposit (:mod:`services.settlements.report`):

- **matched**: the day's credits equal the expected amount within the shop's tolerance;
- **partly matched**: there are credits that day but they differ by more than the tolerance (a deposit split
  or short; the difference is shown), or one line equals one method family's part of the day;
- **unmatched**: a UPayments credit on a day we expected nothing (a weekend, a day outside the cache);
- **missing**: a day we expected money (and the gateway may say deposited) with no credit on the statement.

Credits from anyone else are listed as "not UPayments" and never matched.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from services.sentence import say
from services.settlements.report import DayRow, Settlement
from services.settlements.statement import Statement, StatementLine

MATCHED = "matched"
PARTLY = "partly matched"
UNMATCHED = "unmatched"
MISSING = "missing"
NOT_UPAYMENTS = "not UPayments"


@dataclass(frozen=True)
class MatchLine:
    """One statement line (or one missing deposit day) and what it matched."""

    status: str
    day: date
    amount_fils: int  # on the statement (0 for a missing day)
    expected_fils: int  # for the day (0 when nothing was expected)
    description: str
    row: int | None  # statement row; None for a missing day
    note: str = ""

    @property
    def difference_fils(self) -> int:
        return self.amount_fils - self.expected_fils


@dataclass(frozen=True)
class MatchResult:
    lines: list[MatchLine]
    tolerance_fils: int

    def count(self, status: str) -> int:
        return sum(1 for line in self.lines if line.status == status)


def match(statement: Statement, settlement: Settlement, *, tolerance_fils: int) -> MatchResult:
    """Match ``statement`` against ``settlement`` (whose days must cover the statement's dates)."""
    if isinstance(tolerance_fils, bool) or not isinstance(tolerance_fils, int) or tolerance_fils < 0:
        raise ValueError(say("The tolerance must be zero or more fils."))
    days: dict[date, DayRow] = {row.day: row for row in settlement.days}
    by_day: dict[date, list[StatementLine]] = defaultdict(list)
    out: list[MatchLine] = []
    for line in statement.lines:
        if line.upayments:
            by_day[line.day].append(line)
        else:
            out.append(MatchLine(NOT_UPAYMENTS, line.day, line.amount_fils, 0, line.description, line.row))
    for day, lines in sorted(by_day.items()):
        note: str
        row = days.get(day)
        expected = row.expected_fils if row is not None else 0
        total = sum(line.amount_fils for line in lines)
        if row is None or row.payments == 0:
            status, note = UNMATCHED, say("no deposit was expected on this day")
        elif abs(total - expected) <= tolerance_fils:
            status, note = MATCHED, ""
        else:
            status, note = PARTLY, _partly_note(lines, row, total)
        for line in lines:
            out.append(MatchLine(status, day, line.amount_fils, expected, line.description, line.row, note))
    if statement.lines:
        first = min(line.day for line in statement.lines)
        last = max(line.day for line in statement.lines)
        for day, row in sorted(days.items()):
            if first <= day <= last and day not in by_day and row.expected_fils > 0:
                out.append(MatchLine(MISSING, day, 0, row.expected_fils, "", None,
                                     say("expected this day but not on the statement")))
    order = {MATCHED: 0, PARTLY: 1, UNMATCHED: 2, MISSING: 3, NOT_UPAYMENTS: 4}
    return MatchResult(sorted(out, key=lambda m: (order[m.status], m.day, m.row or 0)), tolerance_fils)


def _partly_note(lines: list[StatementLine], row: DayRow, total: int) -> str:
    families = [name for name, amount in row.expected_by_family.items() if amount > 0
                and any(line.amount_fils == amount for line in lines)]
    if families:
        return say("matches the {families} part of the day; the rest is not on the statement",
                   families=", ".join(families))
    return say("the day's credits differ from the expected deposit")
