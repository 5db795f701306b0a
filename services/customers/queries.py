"""Reading customers: the list (from ``customer_summary``, kept by triggers), the search box, one customer's page.

The list never groups payments: it pages ``customer_summary`` by an index (last purchase, net lifetime value or
number of purchases), so it costs the same at a thousand or a million payments. One customer's page reads only
their payments (``ix_payment_phone`` or the lower-case e-mail index) and their refunds.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, or_
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services.customer_keys import EMAIL_PREFIX, UnknownCustomer, email_of, parse_key, phone_of
from services.db import read_session
from services.models import CardCharge, CustomerSummary, Payment, PaymentStatus, Refund
from services.money import ASCII_DIGITS
from services.permissions import Action, Actor, authorize
from services.phones import InvalidPhone, normalize_phone
from services.privacy import mask_key, may_reveal, shield, shield_all
from services.sentence import N_, listing, phrase, say

Sort = Literal["last_purchase", "lifetime_value", "purchases"]
SORTS: dict[str, str] = {"last_purchase": N_("Last purchase"), "lifetime_value": N_("Lifetime value (net)"),
                         "purchases": N_("Number of purchases")}
MAX_PAGE = 200


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
        # Rows of customers left without payments are deleted by the triggers: count(*) reads the smallest index.
        total = session.exec(select(func.count()).select_from(CustomerSummary)).one()
        # Deferred join: the OFFSET walks the (sort column, key) index only; whole rows are read for one page.
        ordering = (order.desc().nulls_last(), col(CustomerSummary.key).desc())
        keys = (select(CustomerSummary.key).order_by(*ordering).offset((page - 1) * page_size).limit(page_size))
        rows = list(session.exec(select(CustomerSummary).where(col(CustomerSummary.key).in_(keys))
                                 .order_by(*ordering)).all())
    return CustomerList([_row(actor, r) for r in rows], int(total), page, page_size)


def find_customers(engine: Engine, actor: Actor, *, query: str, limit: int = 20) -> list[CustomerRow]:
    """The search box: a phone in any format (Arabic-Indic digits too), a name, or an e-mail."""
    actor = authorize(engine, actor, Action.VIEW_CUSTOMERS)
    if not isinstance(query, str) or len(query) > 200:
        raise CustomerQueryError(say("Search for a phone number, a name or an e-mail (up to 200 characters)."))
    text = query.strip()
    if not text:
        return []
    limit = max(1, min(int(limit), MAX_PAGE))
    conditions = []
    if "@" in text:
        conditions.append(col(CustomerSummary.key) == EMAIL_PREFIX + text.lower())
    digits = re.sub(r"\D", "", text.translate(ASCII_DIGITS))
    if len(digits) >= 4:
        # Whole numbers in any format match their key exactly; the start of a local number matches a key range
        # (both read the primary key; a "contains" scan would visit every customer).
        with contextlib.suppress(InvalidPhone):
            conditions.append(col(CustomerSummary.key) == normalize_phone(text))
        start = digits if digits.startswith("965") and len(digits) > 8 else "965" + digits
        conditions.append(col(CustomerSummary.key).between(f"+{start}", f"+{start}~"))
    if not digits and "@" not in text:
        conditions.append(func.lower(col(CustomerSummary.name)).contains(text.lower()))
    if not conditions:
        return []
    with read_session(engine) as session:
        rows = session.exec(select(CustomerSummary).where(or_(*conditions))
                            .order_by(col(CustomerSummary.last_paid_at).desc().nulls_last()).limit(limit)).all()
    return [_row(actor, r) for r in rows]


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
