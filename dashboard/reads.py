"""Every cached read the pages make, in one place, keyed by everything the answer depends on.

Each cache key holds the database URL and the acting person's e-mail and role, then the query's own inputs
(filter, sort, page), with a bounded ``ttl``; the services re-check the person on every miss. What comes back
is a small frozen view (``SearchPage``, ``RefundRow``, ``InboxRow``, ``DriftItem``, ``Report``, ``EventDetail``),
never a database row. A page that changes data calls the matching ``forget_*``.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from dashboard import state
from services import analytics, refunds, sync
from services.analytics import AnalyticsFilter, Period, Report
from services.permissions import Actor, Role
from services.search import SearchFilter, SearchPage, Totals, add_up, filter_from_query, filter_to_query, search

#: Seconds a cached answer is reused (the background sync changes statuses every ~20 s).
TTL = 30

Query = tuple[tuple[str, str], ...]


def _who(actor: Actor) -> tuple[str, str, str]:
    return state.settings().database_url, actor.email, actor.role.value


def _as(email: str, role: str) -> Actor:
    return Actor(email=email, role=Role(role))


def query_of(flt: SearchFilter) -> Query:
    """A filter as a hashable cache key (its URL form, sorted)."""
    return tuple(sorted(filter_to_query(flt).items()))


# ---------------------------------------------------------------- transactions

@st.cache_data(ttl=TTL, show_spinner="Searching…")
def _search_page(database: str, email: str, role: str, query: Query, sort: str, descending: bool, page: int,
                 page_size: int) -> SearchPage:
    return search(state.engine(), _as(email, role), filter_from_query(dict(query)), sort=sort,
                  descending=descending, page=page, page_size=page_size)


def search_page(actor: Actor, flt: SearchFilter, *, sort: str, descending: bool, page: int,
                page_size: int) -> SearchPage:
    """One page of transactions (``sort``: a column of :data:`services.search.SORTS`)."""
    return _search_page(*_who(actor), query_of(flt), sort, descending, page, page_size)


@st.cache_data(ttl=TTL, show_spinner="Adding up every match…")
def _search_totals(database: str, email: str, role: str, query: Query) -> Totals:
    return add_up(state.engine(), _as(email, role), filter_from_query(dict(query)))


def search_totals(actor: Actor, query: Query) -> Totals:
    """Exact totals of a broad free-text search."""
    return _search_totals(*_who(actor), query)


def forget_search() -> None:
    """After a change to payments (a refund): the next search asks the database again."""
    _search_page.clear()
    _search_totals.clear()


# ---------------------------------------------------------------- analytics

@st.cache_data(ttl=TTL, show_spinner="Adding up payments…")
def _report(database: str, email: str, role: str, start: date, end: date, family: str) -> Report:
    return analytics.report(state.engine(), _as(email, role), Period(start, end),
                            filters=AnalyticsFilter(family=family or None))


def report(actor: Actor, period: Period, family: str) -> Report:
    """The analytics page's figures for a period and method family ("" for all)."""
    return _report(*_who(actor), period.start_day, period.end_day, family)


# ---------------------------------------------------------------- refunds

@st.cache_data(ttl=TTL, show_spinner=False)
def _refund_page(database: str, email: str, role: str, flt: refunds.RefundFilter, page: int,
                 page_size: int) -> tuple[list[refunds.RefundRow], int]:
    return refunds.list_refunds(state.engine(), _as(email, role), filters=flt, page=page, page_size=page_size)


def refund_page(actor: Actor, flt: refunds.RefundFilter, *, page: int,
                page_size: int) -> tuple[list[refunds.RefundRow], int]:
    """A page of refunds and the number matching."""
    return _refund_page(*_who(actor), flt, page, page_size)


def forget_refunds() -> None:
    """After a refund action: the next read asks the database again."""
    _refund_page.clear()


# ---------------------------------------------------------------- webhooks inbox and reconciliation

@st.cache_data(ttl=TTL, show_spinner=False)
def _inbox_page(database: str, email: str, role: str, flt: sync.InboxFilter, offset: int,
                limit: int) -> tuple[list[sync.InboxRow], int]:
    return sync.list_events(state.engine(), _as(email, role), flt, limit=limit, offset=offset)


def inbox_page(actor: Actor, flt: sync.InboxFilter, *, offset: int, limit: int) -> tuple[list[sync.InboxRow], int]:
    """A page of stored webhook deliveries and the number matching."""
    return _inbox_page(*_who(actor), flt, offset, limit)


def forget_inbox() -> None:
    _inbox_page.clear()


@st.cache_data(ttl=TTL, show_spinner=False)
def _stored_drift(database: str, email: str, role: str) -> list[sync.DriftItem]:
    return sync.find_drift(state.engine(), _as(email, role))


def stored_drift(actor: Actor) -> list[sync.DriftItem]:
    """The drift the database alone shows (no gateway calls)."""
    return _stored_drift(*_who(actor))


def forget_drift() -> None:
    _stored_drift.clear()
