"""Cache tables (SQLModel). Money in integer minor units (fils for KWD), timestamps timezone-aware UTC.

The gateway has no list or search endpoint, so these rows are the dashboard's source for search and charts.
Gateway data is written only by :mod:`services.ingest` (one idempotent upsert); the raw payload is kept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.sentence import N_


def utcnow() -> datetime:
    """Now, timezone-aware UTC (SQLModel's UTCDateTime refuses naive datetimes)."""
    return datetime.now(UTC)


class PaymentStatus(StrEnum):
    """Our normalised payment status (the gateway's ``result`` word is kept in ``Payment.result``)."""

    PENDING = "pending"  # created, awaiting payment (or an attempt not final yet)
    PAID = "paid"  # CAPTURED
    FAILED = "failed"  # NOT CAPTURED, ERROR, FAILED ...
    CANCELLED = "cancelled"  # CANCELED by the payer
    EXPIRED = "expired"  # link expired unpaid


#: Rank used by the upsert: a payload never moves a payment to a lower rank (paid is terminal).
STATUS_RANK: dict[str, int] = {PaymentStatus.PENDING: 0, PaymentStatus.FAILED: 1, PaymentStatus.CANCELLED: 1,
                              PaymentStatus.EXPIRED: 1, PaymentStatus.PAID: 2}
FINAL_STATUSES = frozenset({PaymentStatus.PAID, PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED})
#: A status as a word inside a sentence ("This link is already {status}"), translated where it is shown.
STATUS_WORDS: dict[str, str] = {
    PaymentStatus.PENDING: N_("awaiting payment"), PaymentStatus.PAID: N_("paid"), PaymentStatus.FAILED: N_("failed"),
    PaymentStatus.CANCELLED: N_("cancelled"), PaymentStatus.EXPIRED: N_("expired"),
}


class Method(StrEnum):
    """Payment method as the dashboard shows it."""

    KNET = "knet"
    CARD = "card"
    AMEX = "amex"
    APPLE_PAY = "apple_pay"
    APPLE_PAY_KNET = "apple_pay_knet"
    GOOGLE_PAY = "google_pay"
    SAMSUNG_PAY = "samsung_pay"


METHOD_FAMILY: dict[str, str] = {
    "knet": "knet",
    "card": "card",
    "amex": "card",
    "apple_pay": "wallet",
    "apple_pay_knet": "wallet",
    "google_pay": "wallet",
    "samsung_pay": "wallet",
}
FAMILIES = ("knet", "card", "wallet")


class Payment(SQLModel, table=True):
    """One payment (a link we created, or a payment learnt from the gateway); keyed by our order id."""

    __table_args__ = (
        Index("ix_payment_created", "created_at"),
        Index("ix_payment_status_created", "status", "created_at"),
        Index("ix_payment_family_created", "method_family", "created_at"),
        Index("ix_payment_method_created", "method", "created_at"),
        Index("ix_payment_analytics", "local_day", "method_family", "method", "status", "amount_fils"),
        Index("ix_payment_phone", "customer_phone"),
        Index("ix_payment_email", "customer_email"),
        Index("ix_payment_amount", "amount_fils"),
        Index("ix_payment_creator_created", "created_by", "created_at"),
        Index("ix_payment_payment_id", "payment_id"),
        Index("ix_payment_reference", "reference"),
        Index("ix_payment_upay_order", "upay_order_id"),
        Index("ix_payment_invoice", "invoice_id"),
        # The links page: its list, count and status filter read this index alone (issue 15).
        Index("ix_payment_link_list", "source", "created_at", "status", "link_state", "expires_at", "verified_at",
              "created_by"),
        # Reconciliation: stuck link creations and paid payments no webhook announced, without a full walk.
        Index("ix_payment_link_state", "link_state", "created_at"),
        Index("ix_payment_status_webhook", "status", "webhook_received", "created_at"),
        # Refunded payments are few: the Transactions refund filter and the refunded total walk this index only.
        Index("ix_payment_refund", "refund_state", "created_at", "status", "method_family", "method", "amount_fils",
              "refunded_fils"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(max_length=50, unique=True, description="our merchant order id (order.id)")
    track_id: str | None = Field(default=None, max_length=64, unique=True, description="gateway track id")
    upay_order_id: str | None = Field(default=None, max_length=255, description="UPayments order id (refunds)")
    payment_id: str | None = Field(default=None, max_length=64, description="acquirer payment id")
    invoice_id: str | None = Field(default=None, max_length=64)
    session_id: str | None = Field(default=None, max_length=64)
    reference: str | None = Field(default=None, max_length=255)
    amount_fils: int = Field(description="amount in minor units of currency (fils for KWD)")
    currency: str = Field(default="KWD", max_length=3)
    status: str = Field(default=PaymentStatus.PENDING, max_length=16)
    result: str | None = Field(default=None, max_length=32, description="gateway result word, e.g. CAPTURED")
    method: str | None = Field(default=None, max_length=16, description="Method value")
    method_family: str | None = Field(default=None, max_length=8, description="knet | card | wallet")
    customer_name: str | None = Field(default=None, max_length=255)
    customer_phone: str | None = Field(default=None, max_length=20, description="E.164, e.g. +96550000000")
    customer_email: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=500)
    language: str = Field(default="en", max_length=2)
    link_url: str | None = Field(default=None, max_length=1000)
    link_state: str | None = Field(
        default=None, max_length=16, description="links only: creating | active | uncertain | rejected"
    )
    notification_type: str | None = Field(default=None, max_length=5, description="links: email|sms|link|all")
    source: str = Field(default="gateway", max_length=16, description="link | gateway | demo")
    created_by: str | None = Field(default=None, max_length=255, description="staff e-mail for links")
    created_at: datetime = Field(default_factory=utcnow, description="UTC")
    local_day: str = Field(default="", max_length=10, description="created_at's date in Asia/Kuwait")
    paid_at: datetime | None = Field(default=None, description="UTC")
    expires_at: datetime | None = Field(default=None, description="UTC")
    updated_at: datetime = Field(default_factory=utcnow, description="UTC")
    verified_at: datetime | None = Field(default=None, description="last confirmed by a status look-up, UTC")
    refunded_fils: int = Field(default=0, description="sum of refunds that reached the gateway (not cancelled)")
    refund_state: str | None = Field(default=None, max_length=20,
                                     description="services.refund_state: partially_refunded | refunded | None")
    refund_pending_fils: int = Field(default=0, sa_column_kwargs={"server_default": "0"},
                                     description="refunds awaiting approval, being sent or being settled")
    webhook_received: bool = Field(default=False)
    raw: str | None = Field(default=None, sa_column=Column(Text), description="last gateway payload, JSON")


class PaymentEvent(SQLModel, table=True):
    """Timeline of a payment: created, shared, opened, redirect, webhook, status change, refund …"""

    __table_args__ = (Index("ix_payment_event_payment", "payment_pk", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    payment_pk: int = Field(foreign_key="payment.id")
    at: datetime = Field(default_factory=utcnow)
    kind: str = Field(max_length=32)
    actor: str | None = Field(default=None, max_length=255)
    detail: str | None = Field(default=None, sa_column=Column(Text), description="JSON")


class RefundState(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"
    SENDING = "sending"  # intent written, gateway call under way (or crashed: reconcile settles it)
    UNCERTAIN = "uncertain"  # the call's outcome is unknown (timeout): settle from the gateway
    INITIATED = "initiated"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"
    FAILED = "failed"
    NEEDS_SPLIT = "needs_split"  # split payment: the gateway refunded nothing and asks for per-vendor amounts


class Refund(SQLModel, table=True):
    """A refund intent and its outcome; written before the gateway is called."""

    __table_args__ = (
        Index("ix_refund_payment", "payment_pk"),
        Index("ix_refund_state", "state"),
        Index("ix_refund_created", "created_at"),
        Index("ix_refund_day", "local_day"),
        # Analytics' refunds per day and method read the refunds from this index alone (issue 15).
        Index("ix_refund_day_cover", "local_day", "state", "payment_pk", "amount_fils"),
    )

    id: int | None = Field(default=None, primary_key=True)
    payment_pk: int = Field(foreign_key="payment.id")
    idempotency_key: str = Field(max_length=64, unique=True)
    amount_fils: int
    currency: str = Field(default="KWD", max_length=3)
    reason: str = Field(max_length=32)
    note: str | None = Field(default=None, max_length=500)
    state: str = Field(default=RefundState.SENDING, max_length=20)
    requested_by: str = Field(max_length=255)
    approved_by: str | None = Field(default=None, max_length=255)
    decided_at: datetime | None = None
    gateway_order_id: str | None = Field(default=None, max_length=255, description="create-refund data.orderId")
    gateway_refund_order_id: str | None = Field(default=None, max_length=64)
    gateway_refund_arn: str | None = Field(default=None, max_length=64)
    error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow)
    local_day: str = Field(default="", max_length=10, description="created_at's date in Asia/Kuwait")
    sent_at: datetime | None = None
    refunded_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
    raw: str | None = Field(default=None, sa_column=Column(Text))
    split_payload: str | None = Field(default=None, sa_column=Column(Text, nullable=True),
                                      description="split payment: refundPayload[] (JSON), amountToRefund as sent")
    split_generated: str | None = Field(default=None, sa_column=Column(Text, nullable=True),
                                        description="create-multivendor-refund's generated[] (JSON), one per vendor")


class WebhookEvent(SQLModel, table=True):
    """Every webhook delivery (and customer redirect), stored raw before it is processed."""

    __table_args__ = (
        Index("ix_webhook_received", "received_at"),
        Index("ix_webhook_track", "track_id"),
        Index("ix_webhook_order", "order_id"),
        Index("ix_webhook_dedupe", "dedupe_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(default_factory=utcnow)
    source: str = Field(default="webhook", max_length=16, description="webhook | redirect")
    content_type: str | None = Field(default=None, max_length=128)
    body: str = Field(sa_column=Column(Text, nullable=False))
    dedupe_key: str = Field(max_length=64, description="sha256 of the parsed content")
    track_id: str | None = Field(default=None, max_length=64)
    order_id: str | None = Field(default=None, max_length=64, description="merchant order id from the payload")
    result: str | None = Field(default=None, max_length=32)
    payment_pk: int | None = Field(default=None, description="matched payment, if any")
    duplicate: bool = False
    processed_at: datetime | None = None
    error: str | None = Field(default=None, max_length=1000)
    remote: str | None = Field(default=None, max_length=64, description="sender's IP address, when known")
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"},
                          description="processing attempts that failed (poison isolation)")
    next_attempt_at: datetime | None = Field(default=None, description="not retried before this (backoff)")
    unusable_reason: str | None = Field(default=None, max_length=300,
                                        description="why it will never be processed (set once, closes it)")
    transport: str | None = Field(default=None, max_length=16,
                                  description="how it came (§18 F5): get-query, post-form, post-json, post-query")
    query: str | None = Field(default=None, sa_column=Column(Text, nullable=True),
                              description="the request's query string (fields may come there, §18 F5)")
    claimed_by: str | None = Field(default=None, max_length=64,
                                   description="the server verifying it now (one look-up whichever server got it)")
    claimed_at: datetime | None = Field(default=None, description="when that server claimed it (stale after a while)")


class Staff(SQLModel, table=True):
    """Who may use the dashboard: a verified e-mail mapped to one role."""

    email: str = Field(primary_key=True, max_length=255, description="lower-case")
    name: str | None = Field(default=None, max_length=255)
    role: str = Field(max_length=16, description="admin | finance | sales | viewer")
    active: bool = True
    added_by: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    language: str | None = Field(default=None, max_length=8,
                                 description="en | ar; None until the first login picks it from the browser")
    digits: str = Field(default="latn", max_length=8, sa_column_kwargs={"server_default": "latn"},
                        description="latn (0123) | arab (٠١٢٣): how numbers are shown in Arabic")


class AuditEntry(SQLModel, table=True):
    """Append-only, hash-chained audit log: each row carries the hash of the previous one."""

    __table_args__ = (
        UniqueConstraint("seq", name="uq_audit_seq"),
        Index("ix_audit_at", "at"),
        Index("ix_audit_actor", "actor"),
        Index("ix_audit_action", "action"),
    )

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(description="1, 2, 3 … without gaps")
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=255)
    action: str = Field(max_length=64)
    target: str | None = Field(default=None, max_length=255)
    before: str | None = Field(default=None, sa_column=Column(Text), description="JSON")
    after: str | None = Field(default=None, sa_column=Column(Text), description="JSON")
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class SyncState(SQLModel, table=True):
    """Small key/value facts about the cache, e.g. when the last sync finished."""

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=1000)
    updated_at: datetime = Field(default_factory=utcnow)


class Deposit(SQLModel, table=True):
    """What get-deposit-status last said about a captured payment: has its money reached the shop's bank?

    One row per payment, written by :mod:`services.settlements` (the gateway gives only yes/no, a date and an
    invoice link — the amount is the payment's own captured amount, §18 F11).
    """

    __table_args__ = (Index("ix_deposit_checked", "deposited", "checked_at"),)

    payment_pk: int = Field(primary_key=True, foreign_key="payment.id")
    deposited: bool = Field(default=False, description="True only when the gateway answered deposited \"Yes\"")
    deposited_at: datetime | None = Field(default=None, description="deposited_date, UTC")
    invoice_url: str | None = Field(default=None, max_length=1000, description="the gateway's deposit invoice")
    checked_at: datetime = Field(default_factory=utcnow, description="last asked, UTC")
    checks: int = Field(default=0, description="how many times the gateway was asked")


class CustomerSummary(SQLModel, table=True):
    """One row per customer (normalised mobile, else ``email:<lower e-mail>``), kept current by database
    triggers on ``payment`` (migration 0003) so the customers list sorts a million payments by reading this."""

    __tablename__ = "customer_summary"
    __table_args__ = (
        # (sort column, key): the list's ORDER BY … DESC, key walks one index, deep pages included
        Index("ix_customer_last_paid", "last_paid_at", "key"),
        Index("ix_customer_net", "net_fils", "key"),
        Index("ix_customer_paid_count", "n_paid", "key"),
    )

    key: str = Field(primary_key=True, max_length=270, description="E.164 mobile, or 'email:' + lower e-mail")
    name: str | None = Field(default=None, max_length=255, description="latest name given")
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=255)
    n_payments: int = Field(default=0, description="links and payments, any status")
    n_paid: int = Field(default=0, description="purchases (paid)")
    captured_fils: int = Field(default=0, description="sum of paid amounts, minor units (KWD in practice)")
    refunded_fils: int = Field(default=0, description="sum of refunds that reached the gateway")
    net_fils: int = Field(default=0, description="captured minus refunded")
    first_paid_at: datetime | None = Field(default=None, description="UTC")
    last_paid_at: datetime | None = Field(default=None, description="UTC")


class CardChargeState(StrEnum):
    """A saved-card charge intent (auto-deduct, customer absent)."""

    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"
    SENDING = "sending"  # intent written; the claimant's call is under way (or crashed: settle by look-up)
    # The call's outcome is unknown (its answer was lost): never sent again; a person finds the charge in the
    # UPayments portal and settles it by a get-payment-status look-up of its track id, or marks it not charged.
    UNCERTAIN = "uncertain"
    PAID = "paid"
    DECLINED = "declined"
    FAILED = "failed"  # refused before any money moved (invalid token, validation)
    NOT_CHARGED = "not_charged"  # was uncertain; a person found no charge in the UPayments portal (audited, why)


class CardCharge(SQLModel, table=True):
    """An auto-deduct intent and its outcome; written before the gateway is called (services.customers)."""

    __tablename__ = "card_charge"
    __table_args__ = (Index("ix_card_charge_customer", "customer_key", "created_at"),
                      Index("ix_card_charge_state", "state"))

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=64, unique=True)
    order_id: str = Field(max_length=50, unique=True, description="our order.id, generated before the call")
    customer_key: str = Field(max_length=270)
    card_token: str = Field(max_length=64)
    card_label: str | None = Field(default=None, max_length=64, description="brand + masked number, for display")
    amount_fils: int
    currency: str = Field(default="KWD", max_length=3)
    description: str = Field(max_length=500)
    state: str = Field(default=CardChargeState.SENDING, max_length=20)
    requested_by: str = Field(max_length=255)
    approved_by: str | None = Field(default=None, max_length=255)
    decided_at: datetime | None = None
    sent_at: datetime | None = Field(default=None, description="set by the one claim that may call the gateway")
    track_id: str | None = Field(default=None, max_length=64)
    payment_pk: int | None = Field(default=None, description="the payment row once known")
    error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    raw: str | None = Field(default=None, sa_column=Column(Text))


class CustomerConsent(SQLModel, table=True):
    """The customer's agreement to be charged without being present: who agreed, when, how, who recorded it."""

    __tablename__ = "customer_consent"
    __table_args__ = (Index("ix_consent_customer", "customer_key", "card_token"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_key: str = Field(max_length=270)
    card_token: str = Field(max_length=64)
    agreed_by: str = Field(max_length=255, description="the person who agreed (the customer's name)")
    agreed_at: datetime = Field(description="when they agreed, UTC")
    channel: str = Field(max_length=16, description="whatsapp | phone | in_person | written")
    note: str | None = Field(default=None, max_length=500)
    recorded_by: str = Field(max_length=255)
    recorded_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class StatusSlot(SQLModel, table=True):
    """One status look-up of the merchant's shared budget (several app servers on PostgreSQL).

    A row is a request ``waiting`` for a slot (so lower lanes on other servers leave it the next free one) or a
    ``held`` slot: it counts against the limit from ``taken_at`` until ``ended_at`` plus the window.
    """

    __tablename__ = "status_slot"
    __table_args__ = (Index("ix_status_slot_state", "state", "ended_at"),)

    id: int | None = Field(default=None, primary_key=True)
    lane: int = Field(description="services.gateway.Lane: lower is served first")
    state: str = Field(max_length=8, description="waiting | held")
    holder: str = Field(max_length=64, description="server and thread that asked")
    taken_at: datetime = Field(description="the database's clock when it was asked for or taken")
    ended_at: datetime | None = Field(default=None, description="when the call ended (held), or last seen (waiting)")
