"""Which index drives a search on SQLite, chosen from exact counts that cost about a millisecond.

SQLite's planner has no statistics on ranges and likes equality on ``status``, which at a million rows picks an
index that visits 800,000 table rows. We decide instead: the candidate access paths are a covering index on
created_at, amount or status (filters evaluated inside the index), an exact key (phone, e-mail, ids), or the FTS
index; the cost of each is the number of index entries it visits, known from the daily summary (days,
statuses) or a bounded count on the amount index. Columns that must not drive are wrapped in SQLite's unary
``+``, which keeps their meaning and removes them from index selection.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.engine import Connection

from services.models import Payment
from services.search import support
from services.search.filters import SearchFilter

PAYMENT = Payment.__table__  # type: ignore[attr-defined]
#: Filters that pick few rows through their own index; ``refunds`` walks ``ix_payment_refund`` (refunds are rare).
KEY_FIELDS = ("phone", "email", "order_id", "track_id", "payment_id", "reference", "created_by", "refunds")
#: Broad free-text searches report totals of the newest this many matches only ("more than"), not all.
TEXT_TOTALS_CAP = 2_000
#: Exact totals are computed when the cheapest access path costs at most this (in index entries; see below).
EXACT_BUDGET = 100_000
SORT_COLUMN = {"created_at": "created_at", "amount": "amount_fils", "status": "status"}
# Relative costs, in covering-index entries visited (measured at 1M rows): a table look-up by rowid anywhere in
# the table, one inside a day range's id span (neighbouring rows, same pages), a probe of the FTS match set, and
# one row through a sort.
LOOKUP, SPAN_LOOKUP, PROBE, SORT = 20.0, 5.0, 1.0, 4.0
#: Payments added to the newest-first window of a broad text search beyond twice what an even spread needs.
WINDOW_MARGIN = 1_000


@dataclass(frozen=True)
class Stats:
    """Index entries each access path would visit."""

    total: int
    by_date: int  # rows in the day range, every status
    by_status: int  # rows with the chosen statuses, every day
    by_amount: int | None  # rows in the amount range, every day (None: no amount filter)
    by_text: int | None = None  # free-text matches (None: no text)
    text_span: tuple[int, int] | None = None  # ids of the day range lie in this span (text with days only)
    by_text_in_span: int | None = None  # free-text matches with an id in that span


@dataclass(frozen=True)
class Plan:
    """How to answer a search: ``bare`` columns may drive (others get unary plus); capped totals or exact.

    ``text_span`` narrows the FTS matches to an id range (a superset of the day range's payments: still exact).
    """

    bare: frozenset[str]
    capped: bool = False
    text_matches: int | None = None
    text_span: tuple[int, int] | None = None


def day_terms(day: ColumnElement[Any], flt: SearchFilter) -> list[ColumnElement[bool]]:
    """``flt``'s day range on a summary's ``day`` column (``YYYY-MM-DD`` text); open ends are left out."""
    return _range_terms(day, flt.day_from and flt.day_from.isoformat(), flt.day_to and flt.day_to.isoformat())


def amount_terms(amount: ColumnElement[Any], flt: SearchFilter) -> list[ColumnElement[bool]]:
    """``flt``'s amount range on an amount column (fils); open ends are left out."""
    return _range_terms(amount, flt.amount_min, flt.amount_max)


def daily_terms(flt: SearchFilter) -> list[ColumnElement[bool]]:
    """``flt`` on the daily summary: its day range, statuses, families and methods."""
    return [*day_terms(support.SUMMARY.c.day, flt), *_dimension_terms(support.SUMMARY, flt)]


def amounts_terms(flt: SearchFilter) -> list[ColumnElement[bool]]:
    """``flt`` on the amount summary: its amount range, statuses, families and methods."""
    return [*amount_terms(support.AMOUNTS.c.amount, flt), *_dimension_terms(support.AMOUNTS, flt)]


def _dimension_terms(summary: Any, flt: SearchFilter) -> list[ColumnElement[bool]]:
    c = summary.c
    return [column.in_(sorted(values)) for column, values in
            ((c.status, flt.statuses), (c.family, flt.families), (c.method, flt.methods)) if values]


def _range_terms(column: ColumnElement[Any], low: object, high: object) -> list[ColumnElement[bool]]:
    return [*([column >= low] if low is not None else []), *([column <= high] if high is not None else [])]


def _summary_count(conn: Connection, flt: SearchFilter) -> int:
    s = support.SUMMARY.c
    where = day_terms(s.day, flt)
    if flt.statuses:
        where.append(s.status.in_(sorted(flt.statuses)))
    return int(conn.execute(select(func.coalesce(func.sum(s.n), 0)).where(*where)).scalar_one())


def _amount_count(conn: Connection, flt: SearchFilter) -> int:
    a = support.AMOUNTS.c
    where = amount_terms(a.amount, flt)
    return int(conn.execute(select(func.coalesce(func.sum(a.n), 0)).where(*where)).scalar_one())


def id_span(conn: Connection, flt: SearchFilter) -> tuple[int, int] | None:
    d = support.DAY_IDS.c
    low, high = conn.execute(select(func.min(d.lo), func.max(d.hi)).where(*day_terms(d.day, flt))).one()
    return None if low is None else (int(low), int(high))


def gather(conn: Connection, flt: SearchFilter) -> Stats:
    """Exact sizes of the candidate access paths, from the summaries and the FTS index (a few ms at most)."""
    total = _summary_count(conn, SearchFilter())
    by_date = _summary_count(conn, SearchFilter(day_from=flt.day_from, day_to=flt.day_to)) if (
        flt.day_from or flt.day_to) else total
    by_status = _summary_count(conn, SearchFilter(statuses=flt.statuses)) if flt.statuses else total
    by_amount = None
    if flt.amount_min is not None or flt.amount_max is not None:
        by_amount = _amount_count(conn, flt)
    if not flt.text or any(getattr(flt, name) for name in KEY_FIELDS):
        return Stats(total, by_date, by_status, by_amount)
    query = support.fts_query(flt.text)
    if query is None:
        return Stats(total, by_date, by_status, by_amount, 0)
    by_text = int(conn.execute(support.fts_count_sql().bindparams(fts=query)).scalar_one())
    span, in_span = None, None
    if flt.day_from or flt.day_to:
        span = id_span(conn, flt) or (0, -1)
        in_span = int(conn.execute(
            support.fts_count_sql(span=True).bindparams(fts=query, low=span[0], high=span[1])).scalar_one())
    return Stats(total, by_date, by_status, by_amount, by_text, span, in_span)


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
    if stats.by_text is None:
        return Plan(frozenset({column}))
    matches = stats.by_text if stats.by_text_in_span is None else stats.by_text_in_span
    span = stats.text_span
    lookups, scan = matches * (LOOKUP if span is None else SPAN_LOOKUP), visits * (1 + PROBE)
    if lookups <= scan and lookups <= EXACT_BUDGET:
        return Plan(frozenset({"text"}), text_matches=matches, text_span=span)
    if scan <= EXACT_BUDGET:
        return Plan(frozenset({column}), text_matches=matches, text_span=span)
    return Plan(frozenset({"text"}), capped=True, text_matches=matches, text_span=span)


def page_plan(flt: SearchFilter, stats: Stats, totals: Plan, count: int, *, sort: str, offset: int,
              page_size: int) -> Plan:
    """The access path for one page: walk the sort's index in order, or fetch all matches and sort them."""
    if totals.bare == frozenset(KEY_FIELDS):
        return totals
    ranges = _ranges(stats)
    scope = ranges.get(SORT_COLUMN[sort], stats.total)
    per_entry = 1 + (PROBE if stats.by_text is not None else 0)
    # Entries an in-order walk visits before it has offset + page_size matches (matches spread evenly).
    ordered = (offset + page_size) * scope / max(count, 1) * per_entry
    if "text" in totals.bare and totals.text_matches is not None:  # every match looked up, survivors sorted
        fetch_all = totals.text_matches * (LOOKUP if totals.text_span is None else SPAN_LOOKUP)
    else:
        fetch_all = min(ranges.values()) * per_entry
    if ordered <= fetch_all + count * SORT:
        return Plan(frozenset({SORT_COLUMN[sort]}), text_matches=totals.text_matches, text_span=totals.text_span)
    return Plan(totals.bare, text_matches=totals.text_matches, text_span=totals.text_span)


def recent_window(conn: Connection, flt: SearchFilter, stats: Stats, plan: Plan, count: int, *, needed: int
                  ) -> tuple[SearchFilter, Plan] | None:
    """For a newest-first page of a broad free-text search: the filter and plan narrowed to the latest days.

    Walking ``created_at`` newest first while probing the full list of text matches means materialising every
    match first (100,000 for a common first name: most of the search's time). The page only needs the newest
    ``needed`` matches, which lie in the last few days: narrowed to those days (and to their id span in the FTS
    index) the list is small. Exact when the narrowed search fills the page — everything it leaves out is older
    than all it keeps; the caller runs the full search otherwise. ``None`` when narrowing would not help.
    """
    if stats.by_text is None or count <= 0 or "created_at" not in plan.bare:
        return None
    in_scope = stats.by_date if stats.by_date else stats.total
    entries = needed * in_scope / count * 2 + WINDOW_MARGIN  # twice what an even spread needs, and a margin
    s = support.SUMMARY.c
    days = conn.execute(select(s.day, func.sum(s.n)).where(*day_terms(s.day, flt)).group_by(s.day)
                        .order_by(s.day.desc()))
    seen, start = 0, None
    for day, n in days:
        seen += int(n or 0)
        if seen >= entries:
            start = day
            break
    if start is None or (flt.day_from is not None and start <= flt.day_from.isoformat()):
        return None
    narrowed = replace(flt, day_from=date.fromisoformat(start))
    span = id_span(conn, narrowed) or (0, -1)
    return narrowed, replace(plan, text_span=span)
