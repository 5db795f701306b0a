"""Which index drives a search on SQLite, chosen from exact counts that cost about a millisecond.

SQLite's planner has no statistics on ranges and likes equality on ``status``, which at a million rows picks an
index that visits 800,000 table rows. We decide instead: the candidate access paths are a covering index on
created_at, amount or status (filters evaluated inside the index), an exact key (phone, e-mail, ids), or the FTS
index; the cost of each is the number of index entries it visits, known from the daily summary (days,
statuses) or a bounded count on the amount index. Columns that must not drive are wrapped in SQLite's unary
``+``, which keeps their meaning and removes them from index selection.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from services.models import Payment
from services.search import support
from services.search.filters import SearchFilter

PAYMENT = Payment.__table__  # type: ignore[attr-defined]
KEY_FIELDS = ("phone", "email", "order_id", "track_id", "payment_id", "reference", "created_by")
#: Free-text totals beyond this many matches are reported as "more than" (each match costs a table look-up).
TEXT_TOTALS_CAP = 5_000
#: A covering-index scan probing the FTS matches is used for free text when it visits at most this many entries.
TEXT_SCAN_BUDGET = 120_000
SORT_COLUMN = {"created_at": "created_at", "amount": "amount_fils", "status": "status"}


@dataclass(frozen=True)
class Stats:
    """Index entries each access path would visit."""

    total: int
    by_date: int  # rows in the day range, every status
    by_status: int  # rows with the chosen statuses, every day
    by_amount: int | None  # rows in the amount range (None: no amount filter); at most ``by_date`` + 1


@dataclass(frozen=True)
class Plan:
    """How to answer a search: ``bare`` columns may drive (others get unary plus); capped totals or exact."""

    bare: frozenset[str]
    capped: bool = False


def _summary_count(conn: Connection, flt: SearchFilter) -> int:
    s = support.SUMMARY.c
    where = []
    if flt.day_from:
        where.append(s.day >= flt.day_from.isoformat())
    if flt.day_to:
        where.append(s.day <= flt.day_to.isoformat())
    if flt.statuses:
        where.append(s.status.in_(sorted(flt.statuses)))
    return int(conn.execute(select(func.coalesce(func.sum(s.n), 0)).where(*where)).scalar_one())


def gather(conn: Connection, flt: SearchFilter) -> Stats:
    """Exact sizes of the candidate index ranges (the amount range is counted only up to the date range's size)."""
    total = _summary_count(conn, SearchFilter())
    by_date = _summary_count(conn, SearchFilter(day_from=flt.day_from, day_to=flt.day_to)) if (
        flt.day_from or flt.day_to) else total
    by_status = _summary_count(conn, SearchFilter(statuses=flt.statuses)) if flt.statuses else total
    by_amount = None
    if flt.amount_min is not None or flt.amount_max is not None:
        c = PAYMENT.c
        terms = []
        if flt.amount_min is not None:
            terms.append(c.amount_fils >= flt.amount_min)
        if flt.amount_max is not None:
            terms.append(c.amount_fils <= flt.amount_max)
        probe = select(c.id).where(*terms).limit(min(by_date, by_status) + 1).subquery()
        by_amount = int(conn.execute(select(func.count()).select_from(probe)).scalar_one())
    return Stats(total, by_date, by_status, by_amount)


def _ranges(stats: Stats) -> dict[str, int]:
    ranges = {"created_at": stats.by_date, "status": stats.by_status}
    if stats.by_amount is not None:
        ranges["amount_fils"] = stats.by_amount
    return ranges


def totals_plan(flt: SearchFilter, stats: Stats) -> Plan:
    """The access path for counting and summing the filtered set."""
    if any(getattr(flt, name) for name in KEY_FIELDS):
        return Plan(frozenset(KEY_FIELDS))
    column, visits = min(_ranges(stats).items(), key=lambda item: item[1])
    if flt.text and visits > TEXT_SCAN_BUDGET:
        return Plan(frozenset({"text"}), capped=True)
    return Plan(frozenset({column}))


def page_plan(flt: SearchFilter, stats: Stats, totals: Plan, count: int, *, sort: str, offset: int,
              page_size: int) -> Plan:
    """The access path for one page: walk the sort's index in order, or fetch all matches and sort them."""
    if totals.bare == frozenset(KEY_FIELDS):
        return totals
    ranges = _ranges(stats)
    scope = ranges.get(SORT_COLUMN[sort], stats.total)
    # Entries an in-order walk visits before it has offset + page_size matches (matches spread evenly).
    ordered = (offset + page_size) * scope / max(count, 1)
    # Capped text: a look-up per match, then a sort; otherwise the cheapest range plus a sort (dearer per row).
    sorted_cost = float(count) * 8 if totals.capped else min(ranges.values()) + count * 4.0
    if ordered <= sorted_cost:
        return Plan(frozenset({SORT_COLUMN[sort]}))
    return totals
