"""A deep page without walking every row before it: whole days (or amounts) skipped from the summaries (issue 15).

``OFFSET 99,950`` walks 99,950 entries of a sort index before the page (PostgreSQL at a million payments: 100,000
index entries, 20,000 buffers, 10–20 ms). The daily summary knows how many payments each Kuwait day holds for
every (status, method, family), so the days wholly before the page can be counted there and left out by a range
on ``created_at``; the walk then starts inside the day that holds the page. The page is the same: the first sort
key (``created_at``; ``status`` then ``created_at``; ``amount_fils``) orders the groups, so the rows before a
group are exactly those of the groups before it, and their count is the summary's.

Only for filters a summary counts exactly: days, statuses, families and methods (the daily summary, for the
date and status sorts); amounts, statuses, families and methods without days (the amount summary, for the amount
sort). The summaries are kept by triggers in the same transaction as the payments (migrations 0001 and 0011).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from services.models import Payment
from services.search import support
from services.search.filters import SearchFilter
from services.search.plan import amounts_terms, daily_terms
from services.timeutil import kuwait_day_bounds

PAYMENT = Payment.__table__  # type: ignore[attr-defined]
#: Below this offset the walk is cheaper than asking the summary: the walk costs 0.1–0.2 ms per thousand index
#: entries, the grouped summary 2–4 ms at a year of days (7 ms by status and day), measured at a million payments.
SKIP_FROM = 30_000


@dataclass(frozen=True)
class Skip:
    """The rows of the groups before the page are left out by ``term``; ``offset`` is what remains to walk."""

    term: ColumnElement[bool]
    offset: int


def skip(conn: Connection, flt: SearchFilter, sort: str, descending: bool, offset: int) -> Skip | None:
    """Where a page at ``offset`` starts, counted from a summary; ``None`` when no summary counts ``flt``'s rows
    exactly in this sort's first key, or the offset is small."""
    if offset < SKIP_FROM:
        return None
    if sort in ("created_at", "status") and flt.dimension_only():
        return _daily(conn, flt, by_status=sort == "status", descending=descending, offset=offset)
    if sort == "amount" and not (flt.day_from or flt.day_to) and (flt.dimension_only() or flt.amount_dimension_only()):
        return _amounts(conn, flt, descending=descending, offset=offset)
    return None


def _first_group(conn: Connection, keys: list[Any], where: list[ColumnElement[bool]], table: Any,
                 descending: bool, offset: int) -> tuple[Any, ...] | None:
    """The first group (in sort order) whose running count passes ``offset``: its keys, then the rows before it."""
    per = select(*keys, func.sum(table.c.n).label("n")).where(*where).group_by(*keys).subquery()
    order = [per.c[k.name].desc() if descending else per.c[k.name].asc() for k in keys]
    running = select(*(per.c[k.name] for k in keys), per.c.n,
                     func.sum(per.c.n).over(order_by=order, rows=(None, 0)).label("run")).subquery()
    stmt = select(*(running.c[k.name] for k in keys), running.c.run - running.c.n).where(
        running.c.run > offset).order_by(*(running.c[k.name].desc() if descending else running.c[k.name].asc()
                                           for k in keys)).limit(1)
    row = conn.execute(stmt).first()
    return None if row is None else tuple(row)


def _daily(conn: Connection, flt: SearchFilter, *, by_status: bool, descending: bool, offset: int) -> Skip | None:
    s = support.SUMMARY.c
    where = daily_terms(flt)
    keys = [s.status, s.day] if by_status else [s.day]
    found = _first_group(conn, keys, where, support.SUMMARY, descending, offset)
    if found is None:
        return None
    *status, day, before = found
    start, end = kuwait_day_bounds(date.fromisoformat(day))
    c = PAYMENT.c
    if by_status:  # rows of earlier statuses, or of this status on earlier days, come first
        term = (tuple_(c.status, c.created_at) < tuple_(status[0], end) if descending
                else tuple_(c.status, c.created_at) >= tuple_(status[0], start))
    else:
        term = c.created_at < end if descending else c.created_at >= start
    return Skip(term, offset - int(before))


def _amounts(conn: Connection, flt: SearchFilter, *, descending: bool, offset: int) -> Skip | None:
    a = support.AMOUNTS.c
    where = amounts_terms(flt)
    found = _first_group(conn, [a.amount], where, support.AMOUNTS, descending, offset)
    if found is None:
        return None
    amount, before = found
    c = PAYMENT.c
    return Skip(c.amount_fils <= amount if descending else c.amount_fils >= amount, offset - int(before))
