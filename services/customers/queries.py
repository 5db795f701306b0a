"""Reading customers: the list (from ``customer_summary``, kept by triggers), the search box, one customer's page.

The list never groups payments: it pages ``customer_summary`` by an index (last purchase, net lifetime value or
number of purchases), so it costs the same at a thousand or a million payments. One customer's page reads only
their payments (``ix_payment_phone`` or the lower-case e-mail index) and their refunds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, func, or_, text
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services.counts import count_rows
from services.customer_keys import EMAIL_PREFIX, UnknownCustomer, email_of, parse_key, phone_of
from services.db import read_session
from services.models import CardCharge, CustomerSummary, Payment, PaymentStatus, Refund
from services.permissions import Action, Actor, authorize
from services.privacy import mask_key, may_reveal, shield, shield_all
from services.sentence import N_, listing, phrase, say, sentence_of

from .names import matches
from .search_box import SearchTextError, parse_query

Sort = Literal["last_purchase", "lifetime_value", "purchases"]
SORTS: dict[str, str] = {"last_purchase": N_("Last purchase"), "lifetime_value": N_("Lifetime value (net)"),
                         "purchases": N_("Number of purchases")}
MAX_PAGE = 200
#: ``customer_name`` (migration 0010, not in the SQLModel metadata: its text index is per dialect).
CustomerName = Table("customer_name", MetaData(), Column("id", Integer, primary_key=True), Column("key", String(270)),
                     Column("words", Text))


@dataclass(frozen=True)
class CustomerRow:
    """One line of the customers list; ``key`` is what the page link carries, ``label`` what a person reads."""

    key: str
    label: str
    name: str | None
    phone: str | None
    email: str | None
    n_paid: int
    captured_fils: int
    refunded_fils: int
    net_fils: int
    first_paid_at: datetime | None
    last_paid_at: datetime | None


@dataclass(frozen=True)
class CustomerList:
    rows: list[CustomerRow]
    total: int
    page: int
    page_size: int


@dataclass(frozen=True)
class CustomerProfile:
    """Everything about one customer, as the actor may see it."""

    key: str
    label: str
    name: str | None
    phone: str | None
    email: str | None
    payments: list[Payment]  # every link and payment, newest first
    refunds: list[Refund]
    charges: list[CardCharge]  # saved-card charges (auto-deduct intents)
    first_paid_at: datetime | None
    last_paid_at: datetime | None
    n_paid: int
    captured_fils: int
    refunded_fils: int
    net_fils: int
    usual_method: str | None


class CustomerQueryError(ValueError):
    """Bad paging or sorting input."""


def _label(actor: Actor, key: str, name: str | None) -> str:
    shown = key[len(EMAIL_PREFIX):] if key.startswith(EMAIL_PREFIX) else key
    if not may_reveal(actor):
        shown = mask_key(key)
    return f"{name} · {shown}" if name else shown


def _row(actor: Actor, s: CustomerSummary) -> CustomerRow:
    row = CustomerRow(key=s.key, label=_label(actor, s.key, s.name), name=s.name, phone=s.phone, email=s.email,
                      n_paid=s.n_paid, captured_fils=s.captured_fils, refunded_fils=s.refunded_fils,
                      net_fils=s.net_fils, first_paid_at=s.first_paid_at, last_paid_at=s.last_paid_at)
    return shield(actor, row)


def list_customers(engine: Engine, actor: Actor, *, sort: str = "last_purchase", page: int = 1,
                   page_size: int = 50) -> CustomerList:
    """One page of customers, best first by ``sort`` (ties by key, so paging is stable)."""
    actor = authorize(engine, actor, Action.VIEW_CUSTOMERS)
    if sort not in SORTS:
        raise CustomerQueryError(say("Sort by one of: {choices}.", choices=listing(SORTS.values())))
    for value, what in ((page, N_("page")), (page_size, N_("page size"))):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CustomerQueryError(say("The {what} must be a whole number from 1.", what=phrase(what)))
    page_size = min(page_size, MAX_PAGE)
    order = {"last_purchase": col(CustomerSummary.last_paid_at), "lifetime_value": col(CustomerSummary.net_fils),
             "purchases": col(CustomerSummary.n_paid)}[sort]
    with read_session(engine) as session:
        # Rows of customers left without payments are deleted by the triggers: count(*) reads the smallest index
        # (SQLite); on PostgreSQL it reads every row, so it is counted again only after a write (services.counts).
        total = count_rows(session, select(CustomerSummary.key))
        # Deferred join: the OFFSET walks the (sort column, key) index only; whole rows are read for one page.
        # Only last_paid_at has NULLs (never paid): the NOT NULL sorts say plain DESC, which PostgreSQL reads from
        # their (column, key) index backwards; "DESC NULLS LAST" (the same order there) made it sort every customer.
        ordering = (order.desc().nulls_last() if sort == "last_purchase" else order.desc(),
                    col(CustomerSummary.key).desc())
        keys = (select(CustomerSummary.key).order_by(*ordering).offset((page - 1) * page_size).limit(page_size))
        rows = list(session.exec(select(CustomerSummary).where(col(CustomerSummary.key).in_(keys))
                                 .order_by(*ordering)).all())
    return CustomerList([_row(actor, r) for r in rows], int(total), page, page_size)


def find_customers(engine: Engine, actor: Actor, *, query: str, limit: int = 20) -> list[CustomerRow]:
    """The search box: a phone in any format (Arabic-Indic digits too), a name, or an e-mail (:mod:`.search_box`).

    Every shape reads an index: a whole number or e-mail the primary key, the start of a local number a key range,
    name words the ``customer_name`` text index (FTS5 / GIN, migration 0010), whose candidates are then checked
    with the exact rule (:func:`.names.matches`). Most recent purchase first.
    """
    actor = authorize(engine, actor, Action.VIEW_CUSTOMERS)
    try:
        parsed = parse_query(query)
    except SearchTextError as exc:
        raise CustomerQueryError(sentence_of(exc)) from None
    limit = max(1, min(int(limit), MAX_PAGE))
    if parsed.empty:
        return []
    ordering = (col(CustomerSummary.last_paid_at).desc().nulls_last(), col(CustomerSummary.key).desc())
    if parsed.name_words:
        return [_row(actor, r) for r in _by_name(engine, parsed.name_words, limit, ordering)]
    conditions = []
    if parsed.email_key:
        conditions.append(col(CustomerSummary.key) == parsed.email_key)
    if parsed.phone_key:
        conditions.append(col(CustomerSummary.key) == parsed.phone_key)
    if parsed.phone_prefix:  # reads the primary key; a "contains" scan would visit every customer
        conditions.append(col(CustomerSummary.key).between(parsed.phone_prefix, f"{parsed.phone_prefix}~"))
    with read_session(engine) as session:
        rows = session.exec(select(CustomerSummary).where(or_(*conditions)).order_by(*ordering).limit(limit)).all()
    return [_row(actor, r) for r in rows]


#: Name search first reads up to this many of the most recent customers in order (one index walk, streamed) ...
WALK_ROWS = 5000
WALK_BATCH = 500


def _by_name(engine: Engine, name_words: tuple[str, ...], limit: int, ordering: Any) -> list[CustomerSummary]:
    """The most recent customers whose name has a word starting with each of ``name_words``.

    A common name or prefix ("al", "noura") is found among the most recent customers: walk them in order (the
    last-purchase index, key and name only) and keep those that match, so its cost does not grow with how many
    customers match. A rarer one is looked up in the text index (FTS5 / GIN, migration 0010), whose candidates are
    checked with the same exact rule (:func:`.names.matches`) and sorted; there are few of them by then.
    """
    summary = CustomerSummary.__table__  # type: ignore[attr-defined]
    keys: list[str] = []
    with read_session(engine) as session:
        recent = session.execute(select(summary.c.key, summary.c.name).order_by(*ordering).limit(WALK_ROWS),
                                 execution_options={"yield_per": WALK_BATCH})
        seen = 0
        for key, name in recent:  # streamed: a common name stops after a few hundred rows
            seen += 1
            if matches(name, name_words):
                keys.append(key)
                if len(keys) == limit:
                    break
        recent.close()
        if len(keys) == limit or seen < WALK_ROWS:  # enough, or every customer seen: exact either way
            return _rows_in_order(session, keys, ordering)
        if engine.dialect.name == "postgresql":
            hit = text("to_tsvector('simple', customer_name.words) @@ to_tsquery('simple', :q)").bindparams(
                q=" & ".join(f"{w}:*" for w in name_words))
            candidates = select(CustomerName.c.key).where(hit)
        else:
            fts = text("SELECT rowid FROM customer_name_fts WHERE customer_name_fts MATCH :q").bindparams(
                q=" AND ".join(f'"{w}"*' for w in name_words)).columns(rowid=Integer)
            candidates = select(CustomerName.c.key).where(CustomerName.c.id.in_(fts))
        # The candidates first (MATERIALIZED): merely joined, a planner may walk every customer probing each one.
        proposed = candidates.cte("candidate").prefix_with("MATERIALIZED")
        ranked = (select(summary.c.key, summary.c.name).join(proposed, proposed.c.key == summary.c.key)
                  .order_by(*ordering))
        keys, offset, batch = [], 0, limit + 10
        while len(keys) < limit:  # the index proposes, the exact rule decides (almost always the first batch)
            rows = session.execute(ranked.offset(offset).limit(batch)).all()
            keys += [key for key, name in rows if matches(name, name_words)]
            if len(rows) < batch:
                break
            offset += batch
        return _rows_in_order(session, keys[:limit], ordering)


def _rows_in_order(session: Any, keys: list[str], ordering: Any) -> list[CustomerSummary]:
    if not keys:
        return []
    return list(session.exec(select(CustomerSummary).where(col(CustomerSummary.key).in_(keys))
                             .order_by(*ordering)).all())


def _payments_of(key: str) -> object:
    phone = phone_of(key)
    if phone is not None:
        return col(Payment.customer_phone) == phone
    return (func.lower(col(Payment.customer_email)) == email_of(key)) & col(Payment.customer_phone).is_(None)


def customer_profile(engine: Engine, actor: Actor, *, key: str) -> CustomerProfile:
    """One customer's page: links, payments, refunds, saved-card charges, lifetime figures, usual method."""
    actor = authorize(engine, actor, Action.VIEW_CUSTOMERS)
    key = parse_key(key)
    with read_session(engine) as session:
        payments = list(session.exec(select(Payment).where(_payments_of(key))  # type: ignore[arg-type]
                                     .order_by(col(Payment.created_at).desc(), col(Payment.id).desc())).all())
        if not payments:
            raise UnknownCustomer(say("No payment or link for this customer yet."))
        pks = [p.id for p in payments]
        refunds = list(session.exec(select(Refund).where(col(Refund.payment_pk).in_(pks))
                                    .order_by(col(Refund.created_at).desc())).all())
        charges = list(session.exec(select(CardCharge).where(col(CardCharge.customer_key) == key)
                                    .order_by(col(CardCharge.created_at).desc())).all())
        session.expunge_all()
    paid = [p for p in payments if p.status == PaymentStatus.PAID]
    captured = sum(p.amount_fils for p in paid)
    refunded = sum(p.refunded_fils for p in payments)
    methods = Counter(p.method for p in paid if p.method)
    name = next((p.customer_name for p in payments if p.customer_name), None)
    email = next((p.customer_email for p in payments if p.customer_email), None)
    return CustomerProfile(
        key=key, label=_label(actor, key, name), name=name, phone=shield(actor, {"phone": phone_of(key)})["phone"],
        email=shield(actor, {"email": email})["email"], payments=shield_all(actor, payments), refunds=refunds,
        charges=charges, first_paid_at=min((p.created_at for p in paid), default=None),
        last_paid_at=max((p.created_at for p in paid), default=None), n_paid=len(paid), captured_fils=captured,
        refunded_fils=refunded, net_fils=captured - refunded,
        usual_method=methods.most_common(1)[0][0] if methods else None,
    )


def key_of_payment(engine: Engine, actor: Actor, *, payment_pk: int) -> str | None:
    """The customer key of one payment or link (for the "Customer" button on Transactions and Links)."""
    actor = authorize(engine, actor, Action.VIEW_CUSTOMERS)
    with read_session(engine) as session:
        payment = session.get(Payment, payment_pk)
    if payment is None:
        return None
    if payment.customer_phone:
        return payment.customer_phone
    return EMAIL_PREFIX + payment.customer_email.strip().lower() if payment.customer_email else None
