"""Transaction search over the payment cache: one page of rows plus the count and amount of the whole set."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, Integer, any_, case, exists, false, func, literal, literal_column, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from services.db import read_engine
from services.models import Deposit, Payment, PaymentStatus
from services.permissions import Action, Actor, authorize
from services.privacy import shield_all
from services.refund_state import status_word
from services.search import deep_page, pg_text, support
from services.search import plan as planner
from services.search.filters import SORTS, SearchFilter
from services.search.plan import (
    KEY_FIELDS,
    SORT_COLUMN,
    Plan,
    amounts_terms,
    daily_terms,
    gather,
    page_plan,
    totals_plan,
)
from services.sentence import Count, say
from services.timeutil import as_utc, kuwait_day_bounds

PAYMENT = Payment.__table__  # type: ignore[attr-defined]
DEPOSIT = Deposit.__table__  # type: ignore[attr-defined]
MAX_PAGE_SIZE = 500
EXPORT_TEXT_DRIVE = 50_000  # an export with free text looks its matches up first when there are at most this many
ROW_COLUMNS = (
    "id", "created_at", "order_id", "customer_name", "customer_phone", "customer_email", "amount_fils", "currency",
    "status", "method", "method_family", "track_id", "payment_id", "reference", "upay_order_id", "description",
    "created_by", "source", "paid_at", "refunded_fils", "refund_state", "refund_pending_fils",
)

#: Sort → ORDER BY columns. They are exactly the columns of a covering index (then the rowid), so that index hands
#: rows over in order and a deep page is a walk along it; ties on the first key thus fall to the other columns, then id.
ORDER_KEYS: dict[str, tuple[str, ...]] = {
    "created_at": ("created_at", "status", "method_family", "method", "amount_fils", "id"),
    "amount": ("amount_fils", "created_at", "status", "method_family", "method", "id"),
    "status": ("status", "created_at", "method_family", "method", "amount_fils", "id"),
}


@dataclass(frozen=True)
class PaymentRow:
    """One search result (no raw payload); amounts in minor units, times UTC."""

    id: int
    created_at: datetime
    order_id: str
    customer_name: str | None
    customer_phone: str | None
    customer_email: str | None
    amount_fils: int
    currency: str
    status: str
    method: str | None
    method_family: str | None
    track_id: str | None
    payment_id: str | None
    reference: str | None
    upay_order_id: str | None
    description: str | None
    created_by: str | None
    source: str
    paid_at: datetime | None
    refunded_fils: int
    refund_state: str | None = None  # services.refund_state (paid payments only)
    refund_pending_fils: int = 0  # refunds asked for but not counted yet

    @property
    def status_word(self) -> str:
        """The status a person sees: ``partially_refunded``/``refunded`` for a refunded paid payment."""
        return status_word(self.status, self.refund_state)


@dataclass(frozen=True)
class Totals:
    """Size of a filtered set: every status, the captured (paid) part, what was refunded of it, what awaits payment.

    Money that adds up: captured − refunded = net; ``awaiting_fils`` (unpaid links) is never added to it.
    """

    count: int
    amount_fils: int
    captured_count: int
    captured_amount_fils: int
    exact: bool = True  # False: too many free-text matches to sum; amounts are 0
    count_exact: bool = True  # False: ``count`` is a lower bound ("more than")
    refunded_fils: int = 0  # counted refunds of the paid payments in the set (services.refund_state)
    awaiting_count: int = 0  # payments still awaiting payment
    awaiting_fils: int = 0

    @property
    def net_fils(self) -> int:
        """Captured minus refunded."""
        return self.captured_amount_fils - self.refunded_fils


@dataclass(frozen=True)
class SearchPage:
    """A page of results and the totals of the whole filtered set.

    ``total_amount_fils`` sums every status in the set; ``captured_amount_fils`` only ``paid`` payments.
    With ``totals_exact`` False (a broad free-text search) the amounts are 0 (not summed) and, unless
    ``count_exact``, ``total_count`` is only a lower bound.
    """

    rows: list[PaymentRow]
    total_count: int
    total_amount_fils: int
    page: int
    page_size: int
    captured_count: int = 0
    captured_amount_fils: int = 0
    totals_exact: bool = True  # False: a broad free-text search; amounts not summed
    count_exact: bool = True  # False: ``total_count`` is a lower bound ("more than")
    refunded_fils: int = 0
    awaiting_count: int = 0
    awaiting_fils: int = 0

    @property
    def net_fils(self) -> int:
        """Captured minus refunded."""
        return self.captured_amount_fils - self.refunded_fils

    @property
    def pages(self) -> int:
        """Number of pages (at least 1); with a lower-bound count, one more while this page is full."""
        known = max(1, math.ceil(self.total_count / self.page_size))
        if self.count_exact:
            return known
        return max(known, self.page + (1 if len(self.rows) == self.page_size else 0))


def _col(name: str, plan: Plan | None) -> Any:
    """A payment column; on SQLite wrapped in unary ``+`` when the plan says it must not drive the query."""
    column = PAYMENT.c[name]
    if plan is None or name in plan.bare:
        return column
    return literal_column(f"+{PAYMENT.name}.{name}", column.type)


def _text_condition(engine: Engine, value: str, plan: Plan | None, fts_limit: int | None) -> ColumnElement[bool]:
    c = PAYMENT.c
    if support.has_support(engine):
        query = support.fts_query(value)
        if query is None:
            return false()
        span = plan.text_span if plan is not None else None  # covers every id of the day range: still exact
        if span is not None:
            ids = support.fts_ids_sql(fts_limit, span=True).bindparams(fts=query, low=span[0], high=span[1])
        else:
            ids = support.fts_ids_sql(fts_limit).bindparams(fts=query)
        ids = ids.columns(rowid=c.id.type)
        return _col("id", plan if plan is None or "text" not in plan.bare else None).in_(ids)
    # Without the FTS index (PostgreSQL): every token must occur in one of the columns (substring, any case),
    # a superset of the FTS semantics. Tokens are letters and digits only, so no LIKE wildcard gets through; they
    # hold no space, so a match in the space-joined columns lies within one column: the same rows as an ILIKE
    # per column. The joined text is stored lower-cased (PG_SEARCH_TEXT, trigram-indexed, migration 0012) and
    # compared with the lower-cased token: what ILIKE does inside for UTF-8, without redoing it for every row.
    return pg_text.text_condition(value)


def conditions(engine: Engine, flt: SearchFilter, plan: Plan | None = None, *,
               fts_limit: int | None = None) -> list[ColumnElement[bool]]:
    """WHERE terms for ``flt`` (all must hold); ``plan`` (SQLite) decides which columns may use an index and
    ``fts_limit`` keeps only the newest that many free-text matches."""
    c = PAYMENT.c
    terms: list[ColumnElement[bool]] = []
    if flt.day_from:
        terms.append(_col("created_at", plan) >= kuwait_day_bounds(flt.day_from)[0])
    if flt.day_to:
        terms.append(_col("created_at", plan) < kuwait_day_bounds(flt.day_to)[1])
    if flt.statuses:
        terms.append(_col("status", plan).in_(sorted(flt.statuses)))
    if flt.families:
        terms.append(_col("method_family", plan).in_(sorted(flt.families)))
    if flt.methods:
        terms.append(_col("method", plan).in_(sorted(flt.methods)))
    if flt.amount_min is not None:
        terms.append(_col("amount_fils", plan) >= flt.amount_min)
    if flt.amount_max is not None:
        terms.append(_col("amount_fils", plan) <= flt.amount_max)
    if flt.phone:
        terms.append(c.customer_phone == flt.phone)
    if flt.email:
        terms.append(func.lower(c.customer_email) == flt.email)
    for name in ("order_id", "track_id", "payment_id", "reference"):
        value = getattr(flt, name)
        if value:
            terms.append(c[name] == value)
    if flt.created_by:
        terms.append(c.created_by == flt.created_by)  # staff e-mails are stored lower-case
    if flt.text:
        terms.append(_text_condition(engine, flt.text, plan, fts_limit))
    if flt.refunds:
        terms.append(c.refund_state.in_(sorted(flt.refunds)))  # drives ix_payment_refund (KEY_FIELDS)
    if flt.not_deposited:  # captured money the gateway has not confirmed deposited (only "Yes" counts, §18 F11)
        d = DEPOSIT.c
        terms.append(c.status == PaymentStatus.PAID)
        terms.append(~exists().where(d.payment_pk == c.id, d.deposited.is_(True)))
    return terms


def _order_by(sort: str, descending: bool, dialect: str = "sqlite") -> list[Any]:
    c = PAYMENT.c
    if sort not in SORTS:
        raise ValueError(say("Cannot sort by {value}; choose one of: {choices}.", value=repr(sort),
                             choices=", ".join(SORTS)))
    keys = [c[name] for name in ORDER_KEYS[sort]]
    if dialect != "sqlite":  # SQLite's own NULL order (first ascending, last descending), on every database
        return [k.desc().nulls_last() for k in keys] if descending else [k.asc().nulls_first() for k in keys]
    return [k.desc() for k in keys] if descending else [k.asc() for k in keys]


def _aggregate(source: Any, *, refunded: bool = True) -> Any:
    """Count, amount, captured count and amount, refunded (0 without ``refunded``), awaiting count and amount."""
    paid = source.c.status == PaymentStatus.PAID
    waiting = source.c.status == PaymentStatus.PENDING
    return select(
        func.count(), func.coalesce(func.sum(source.c.amount_fils), 0),
        func.count(case((paid, 1))), func.coalesce(func.sum(case((paid, source.c.amount_fils), else_=0)), 0),
        func.coalesce(func.sum(case((paid, source.c.refunded_fils), else_=0)), 0) if refunded else literal(0),
        func.count(case((waiting, 1))), func.coalesce(func.sum(case((waiting, source.c.amount_fils), else_=0)), 0),
    )


def _refunded(conn: Connection, engine: Engine, flt: SearchFilter) -> int:
    """Counted refunds of the paid payments matching ``flt``: a walk of ``ix_payment_refund`` (refunds are few)."""
    walk = Plan(frozenset(KEY_FIELDS)) if support.has_support(engine) else None
    stmt = select(func.coalesce(func.sum(PAYMENT.c.refunded_fils), 0)).where(
        PAYMENT.c.refund_state.isnot(None), *conditions(engine, flt, walk))
    return int(conn.execute(stmt).scalar_one())


def _totals(conn: Connection, engine: Engine, flt: SearchFilter, plan: Plan | None, *, exact: bool = False
            ) -> Totals:
    return _totals_and_ids(conn, engine, flt, plan, exact=exact)[0]


def _totals_and_ids(conn: Connection, engine: Engine, flt: SearchFilter, plan: Plan | None, *, exact: bool = False
                    ) -> tuple[Totals, list[int] | None]:
    """The totals of ``flt``; with them, on PostgreSQL, the ids of every match when a capped text count found at
    most ``TEXT_TOTALS_CAP`` (the page is then sorted from those ids instead of searching the text again)."""
    summaries = plan is not None or support.has_summaries(engine)  # SQLite's planner, or PostgreSQL at 0011
    if plan is None and summaries and not exact and _capped_text(flt):
        return _capped_text_totals(conn, engine, flt)
    if summaries and flt.dimension_only():
        return replace(_one(conn, _summary_totals(flt)), refunded_fils=_refunded(conn, engine, flt)), None
    if summaries and flt.amount_dimension_only():
        return replace(_one(conn, _amount_totals(flt)), refunded_fils=_refunded(conn, engine, flt)), None
    if plan is not None and plan.capped:
        matches = plan.text_matches if plan.text_matches is not None else _fts_count(conn, flt.text or "")
        if matches <= planner.TEXT_TOTALS_CAP:
            plan = replace(plan, capped=False)  # few enough to look every match up
        elif flt == SearchFilter(text=flt.text):
            return Totals(matches, 0, 0, 0, exact=False), None
        else:  # count within the newest TEXT_TOTALS_CAP text matches only: a lower bound
            sample = select(PAYMENT.c.amount_fils, PAYMENT.c.status, PAYMENT.c.refunded_fils).where(
                *conditions(engine, flt, plan, fts_limit=planner.TEXT_TOTALS_CAP))
            return replace(_one(conn, _aggregate(sample.subquery())), amount_fils=0, captured_count=0,
                           captured_amount_fils=0, refunded_fils=0, awaiting_count=0, awaiting_fils=0,
                           exact=False, count_exact=False), None
    if plan is None and engine.dialect.name == "postgresql" and not flt.text and not flt.not_deposited and not any(
            getattr(flt, name) for name in KEY_FIELDS):
        # PostgreSQL, dates or amounts with other columns of the sort indexes: every column summed is in
        # ix_payment_created_order, so the sum is an index-only scan (a date range with an amount range: 24,000
        # of a month's payments, 2-3 times faster than fetching them from the table); the refunded part comes
        # from ix_payment_refund, as for the summaries (refund_state is set exactly when a paid payment has
        # counted refunds: services.refunds.ledger.recompute_refunded).
        columns = select(PAYMENT.c.amount_fils, PAYMENT.c.status).where(*conditions(engine, flt))
        return replace(_one(conn, _aggregate(columns.subquery(), refunded=False)),
                       refunded_fils=_refunded(conn, engine, flt)), None
    matched = select(PAYMENT.c.amount_fils, PAYMENT.c.status, PAYMENT.c.refunded_fils).where(
        *conditions(engine, flt, plan))
    return _one(conn, _aggregate(matched.subquery())), None


def _capped_text_totals(conn: Connection, engine: Engine, flt: SearchFilter) -> tuple[Totals, list[int] | None]:
    """PostgreSQL: more than TEXT_TOTALS_CAP text matches are not all summed for a page (SQLite's capped totals):
    "more than" and no amounts, as there; add_up() visits every match when someone asks. One query: the first
    TEXT_TOTALS_CAP + 1 matches summed (and their ids); when there are no more, those are the totals. A common
    token walks the payments instead of asking the trigram index (services.search.pg_text)."""
    value = flt.text or ""
    walk = _walks(conn, engine, flt)
    text = pg_text.text_condition(value, indexed=not walk,
                                  keys=None if walk else pg_text.index_keys(conn, engine, value))
    stmt = select(PAYMENT.c.id, PAYMENT.c.amount_fils, PAYMENT.c.status, PAYMENT.c.refunded_fils).where(
        *conditions(engine, replace(flt, text=None)), text).limit(planner.TEXT_TOTALS_CAP + 1)
    if walk and (flt.day_from or flt.day_to):  # walk the day range along its index (newest first), not
        stmt = stmt.order_by(PAYMENT.c.created_at.desc())  # the table from its oldest payment
    first = stmt.subquery()
    row = conn.execute(_aggregate(first).add_columns(func.array_agg(first.c.id))).one()
    totals = _totals_of(row[:7])
    if totals.count > planner.TEXT_TOTALS_CAP:
        return Totals(planner.TEXT_TOTALS_CAP, 0, 0, 0, exact=False, count_exact=False), None
    return totals, [int(i) for i in row[7] or ()]


def _walks(conn: Connection, engine: Engine, flt: SearchFilter) -> bool:
    """Whether a capped text count of ``flt`` (text, days, statuses, families, methods) should walk the payments:
    the walk reads at most ``pg_text.WALK_ROWS`` before it has TEXT_TOTALS_CAP + 1 matches (counts from the
    summaries, the text's share from the planner's histogram)."""
    rest = replace(flt, text=None)
    if not flt.text or not (rest.is_empty() or rest.dimension_only()):
        return False
    share = pg_text.density(conn, engine, flt.text)
    if share is None:
        return False
    days = SearchFilter(day_from=flt.day_from, day_to=flt.day_to)
    other = replace(rest, day_from=None, day_to=None)
    if flt.day_from or flt.day_to:
        range_rows: int | None = _count(conn, days)
    else:  # the whole table: the planner's count is close enough for a choice (summing the summary is not free)
        range_rows = pg_text.table_rows(conn, engine) if not other.is_empty() else None
        if range_rows == 0:  # not counted yet: no choice to make
            return False
    scope_rows = _count(conn, rest) if not other.is_empty() else None
    reads = pg_text.walk_reads(share, wanted=planner.TEXT_TOTALS_CAP + 1, range_rows=range_rows,
                               scope_rows=scope_rows)
    return reads is not None and reads <= pg_text.WALK_ROWS


def _count(conn: Connection, flt: SearchFilter) -> int:
    """Payments matching a dimension-only ``flt``, from the daily summary."""
    return int(conn.execute(_summary_totals(flt)).one()[0] or 0)


def _capped_text(flt: SearchFilter) -> bool:
    """Whether ``flt``'s totals are those of free text (without an exact key) that may be capped: a text filter,
    no key field (those find a handful of payments), and not answered by a summary."""
    return bool(flt.text) and not any(getattr(flt, name) for name in KEY_FIELDS) and not (
        flt.dimension_only() or flt.amount_dimension_only())


def _one(conn: Connection, stmt: Any) -> Totals:
    """Totals from one row: count, amount, captured count and amount, refunded, awaiting count and amount."""
    return _totals_of(conn.execute(stmt).one())


def _totals_of(values: Any) -> Totals:
    count, amount, captured, captured_amount, refunded, awaiting, awaiting_amount = (int(v or 0) for v in values)
    return Totals(count, amount, captured, captured_amount, refunded_fils=refunded, awaiting_count=awaiting,
                  awaiting_fils=awaiting_amount)


def _fts_count(conn: Connection, value: str) -> int:
    query = support.fts_query(value)
    return int(conn.execute(support.fts_count_sql().bindparams(fts=query)).scalar_one()) if query else 0


def totals(engine: Engine, flt: SearchFilter) -> Totals:
    """Count and amount of everything matching ``flt``, always exact (no permission check: callers check)."""
    support.ensure_search_support(engine)
    with read_engine(engine).connect() as conn:
        plan = None
        if support.has_support(engine):
            plan = totals_plan(flt, gather(conn, flt))
            if plan.capped:
                plan = replace(plan, capped=False)  # exact: every text match is visited
        return _totals(conn, engine, flt, plan, exact=True)


def add_up(engine: Engine, actor: Actor, flt: SearchFilter) -> Totals:
    """Exact count and amounts of a filtered set that :func:`search` only estimated (a broad free-text search):
    every match is visited, so this is the slow path, run when someone asks for it."""
    actor = authorize(engine, actor, Action.VIEW_TRANSACTIONS)
    return totals(engine, flt)


def _summary_totals(flt: SearchFilter) -> Any:
    s = support.SUMMARY.c
    where = daily_terms(flt)
    paid, waiting = s.status == PaymentStatus.PAID, s.status == PaymentStatus.PENDING
    return select(
        func.coalesce(func.sum(s.n), 0), func.coalesce(func.sum(s.amount), 0),
        func.coalesce(func.sum(case((paid, s.n))), 0), func.coalesce(func.sum(case((paid, s.amount))), 0),
        literal(0), func.coalesce(func.sum(case((waiting, s.n))), 0),
        func.coalesce(func.sum(case((waiting, s.amount))), 0),
    ).where(*where)


def _amount_totals(flt: SearchFilter) -> Any:
    a = support.AMOUNTS.c
    where = amounts_terms(flt)
    paid, waiting = a.status == PaymentStatus.PAID, a.status == PaymentStatus.PENDING
    return select(
        func.coalesce(func.sum(a.n), 0), func.coalesce(func.sum(a.n * a.amount), 0),
        func.coalesce(func.sum(case((paid, a.n))), 0), func.coalesce(func.sum(case((paid, a.n * a.amount))), 0),
        literal(0), func.coalesce(func.sum(case((waiting, a.n))), 0),
        func.coalesce(func.sum(case((waiting, a.n * a.amount))), 0),
    ).where(*where)


def _row(values: Any) -> PaymentRow:
    data = dict(zip(ROW_COLUMNS, values, strict=True))
    data["created_at"] = as_utc(data["created_at"])
    data["paid_at"] = as_utc(data["paid_at"]) if data["paid_at"] is not None else None
    return PaymentRow(**data)


def search(
    engine: Engine,
    actor: Actor,
    flt: SearchFilter,
    *,
    sort: str = "created_at",
    descending: bool = True,
    page: int = 1,
    page_size: int = 50,
) -> SearchPage:
    """One page of payments matching ``flt``, sorted, with the count and amount of the whole filtered set.

    Pages past the end are clamped to the last page. Deep pages stay cheap: the OFFSET walks an index of ids
    only and the full rows are fetched for the ids of the page (a deferred join); on PostgreSQL the days (or
    amounts) wholly before a deep page are counted in a summary and skipped (services.search.deep_page).
    Free-text searches matching more than ``TEXT_TOTALS_CAP`` payments report ``totals_exact=False`` instead of
    looking up every match.
    """
    actor = authorize(engine, actor, Action.VIEW_TRANSACTIONS)
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(say("Page size must be between 1 and {limit}.", limit=Count(MAX_PAGE_SIZE)))
    order = _order_by(sort, descending, engine.dialect.name)
    support.ensure_search_support(engine)
    with read_engine(engine).connect() as conn:
        stats = gather(conn, flt) if support.has_support(engine) else None
        plan = totals_plan(flt, stats) if stats else None
        total, matched = _totals_and_ids(conn, engine, flt, plan)
        if total.count_exact:
            page = max(1, min(page, max(1, math.ceil(total.count / page_size))))
        offset = (max(1, page) - 1) * page_size
        rows: list[PaymentRow] = []
        if matched is not None:  # PostgreSQL: every match's id is known, no need to search the text again
            rows = _page_of(conn, matched, order, offset, page_size)
        elif total.count or not total.count_exact:
            walk = (page_plan(flt, stats, plan, total.count, sort=sort, offset=offset, page_size=page_size)
                    if stats and plan else None)
            window = (planner.recent_window(conn, flt, stats, walk, total.count, needed=offset + page_size)
                      if stats and walk and flt.text and sort == "created_at" and descending else None)
            if window is not None:  # exact when it fills the page (see recent_window), else the full walk
                rows = _page(conn, engine, *window, order, offset, page_size)
            if len(rows) < page_size:
                jump = (deep_page.skip(conn, flt, sort, descending, offset)
                        if stats is None and support.has_summaries(engine) else None)
                rows = _page(conn, engine, flt, walk, order, offset, page_size, jump)
    rows = shield_all(actor, rows)  # contact data masked for roles that may not see it (services.customers)
    return SearchPage(rows, total.count, total.amount_fils, max(1, page), page_size, total.captured_count,
                      total.captured_amount_fils, total.exact, total.count_exact, total.refunded_fils,
                      total.awaiting_count, total.awaiting_fils)


def _page(conn: Connection, engine: Engine, flt: SearchFilter, walk: Plan | None, order: list[Any], offset: int,
          page_size: int, jump: deep_page.Skip | None = None) -> list[PaymentRow]:
    """One page of rows: the ids walked in order (an index of ids only), then the full rows for those ids; with
    ``jump``, the walk starts at the summary group that holds the page (services.search.deep_page)."""
    where = conditions(engine, flt, walk)
    if jump is not None:
        where, offset = [*where, jump.term], jump.offset
    ids = select(PAYMENT.c.id).where(*where).order_by(*order)
    stmt = select(*(PAYMENT.c[name] for name in ROW_COLUMNS)).where(
        PAYMENT.c.id.in_(ids.limit(page_size).offset(offset))).order_by(*order)
    return [_row(values) for values in conn.execute(stmt)]


def _page_of(conn: Connection, ids: list[int], order: list[Any], offset: int, page_size: int) -> list[PaymentRow]:
    """One page of the payments with these ids (every match of a search), in ``order``."""
    if not ids:
        return []
    stmt = select(*(PAYMENT.c[name] for name in ROW_COLUMNS)).where(
        PAYMENT.c.id == any_(literal(ids, ARRAY(Integer)))).order_by(*order).limit(page_size).offset(offset)
    return [_row(values) for values in conn.execute(stmt)]


def iter_rows(engine: Engine, flt: SearchFilter, *, sort: str = "created_at", descending: bool = True,
              batch: int = 2000) -> Iterator[PaymentRow]:
    """Every payment matching ``flt``, streamed from one read snapshot in batches (no permission check).

    On SQLite the rows come from an in-order walk of the sort's covering index (no sort of the whole set),
    unless an exact key or a narrow free text picks a handful of rows first.
    """
    order = _order_by(sort, descending, engine.dialect.name)
    support.ensure_search_support(engine)
    with read_engine(engine).connect() as conn:
        walk = None
        if support.has_support(engine):
            if any(getattr(flt, name) for name in KEY_FIELDS):
                walk = Plan(frozenset(KEY_FIELDS))
            elif flt.text and _fts_count(conn, flt.text) <= EXPORT_TEXT_DRIVE:
                walk = Plan(frozenset({"text"}))
            else:
                walk = Plan(frozenset({SORT_COLUMN[sort]}))
        stmt = select(*(PAYMENT.c[name] for name in ROW_COLUMNS)).where(*conditions(engine, flt, walk)).order_by(
            *order).execution_options(yield_per=batch)
        for values in conn.execute(stmt):
            yield _row(values)
