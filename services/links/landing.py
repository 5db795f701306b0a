"""Where the customer lands after the payment page: record the redirect, ask the gateway, decide what to say.

Nothing in the URL is trusted (contract §9.3, §16 A24): the raw query goes to the inbox (source "redirect") and
triggers the gateway's own status look-up; the page says "paid" only when the cached, verified status is paid.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.gateway import UPaymentsClient, parse_redirect
from services.links.follow import verified_refresh
from services.models import Payment, PaymentStatus
from services.permissions import SYSTEM
from services.sync.events import apply_redirect
from services.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

MAX_QUERY_BYTES = 4096
MAX_ATTEMPTS = 40  # auto-refreshes (every REFRESH_SECONDS) before the page stops waiting
CANCEL_ATTEMPTS = 3  # on the cancel URL a still-unpaid payment is "not completed" after this many checks
REFRESH_SECONDS = 3
LOOKUP_INTERVAL = 4.0  # at most one verified look-up per order per this many seconds from this page
_ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,50}$")
_GATEWAY_KEYS = ("result", "payment_id", "track_id", "upay_order_id", "invoice_id")

_last_lookup: dict[str, float] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Landing:
    """What the landing page shows."""

    kind: str  # paid | pending | failed | not_completed | expired | stalled | unknown
    order_id: str | None = None
    language: str = "en"
    amount_fils: int | None = None
    currency: str = "KWD"
    retry_url: str | None = None  # the payment link again, when it can still be paid
    refresh: bool = False
    receipt: Receipt | None = None  # only when the gateway confirmed the payment


@dataclass(frozen=True)
class Receipt:
    """What a customer keeps as proof of payment: the gateway's ids and the shop's reference, nothing else of ours
    (no customer data beyond what the customer typed on the payment page, and nothing of it here)."""

    order_id: str
    amount_fils: int
    currency: str
    method: str | None
    paid_at: datetime | None
    payment_id: str | None
    track_id: str | None
    reference: str | None


def _due(order_id: str) -> bool:
    now = time.monotonic()
    with _lock:
        if now - _last_lookup.get(order_id, -LOOKUP_INTERVAL) < LOOKUP_INTERVAL:
            return False
        _last_lookup[order_id] = now
        if len(_last_lookup) > 10_000:  # bounded: forget the oldest half
            for key in sorted(_last_lookup, key=_last_lookup.__getitem__)[:5_000]:
                del _last_lookup[key]
        return True


def _order_of(query: str) -> tuple[str | None, bool]:
    """Our order id (our own ``o`` parameter first, else the gateway's) and whether gateway params are present."""
    try:
        params = parse_redirect(query)
    except Exception:  # a mangled query is treated as carrying nothing
        log.info("unreadable landing query ignored")
        return None, False
    order_id = params.merchant_params.get("o") or params.merchant_order_id
    order_id = (order_id or "").strip()
    has_gateway_part = any(getattr(params, key, None) for key in _GATEWAY_KEYS)
    return (order_id if _ORDER_ID.match(order_id) else None), has_gateway_part


def _find(engine: Engine, order_id: str) -> Payment | None:
    with Session(engine) as session:
        return session.exec(select(Payment).where(col(Payment.order_id) == order_id,
                                                  col(Payment.source) == "link")).first()


def land(engine: Engine, client: UPaymentsClient, *, query: str, cancel: bool = False, attempt: int = 0,
         remote: str | None = None) -> Landing:
    """Record the redirect (once), verify with the gateway (throttled) and say where the payment stands
    (``remote``: the customer's address, for the per-sender limit on look-ups of unknown ids)."""
    if len(query.encode("utf-8")) > MAX_QUERY_BYTES:
        return Landing("unknown")
    order_id, gateway_part = _order_of(query)
    if order_id is None:
        return Landing("unknown")
    if gateway_part:
        # the first arrival from the gateway: store it raw and verify (our own auto-refresh URL carries none)
        try:
            apply_redirect(engine, client, query, limiter_timeout=3.0, remote=remote)
        except Exception:
            log.exception("recording the redirect for %s failed", order_id)
        _due(order_id)
    payment = _find(engine, order_id)
    if payment is None:
        return Landing("unknown", order_id=order_id)
    if payment.status == PaymentStatus.PENDING and payment.id is not None and _due(order_id):
        verified_refresh(engine, client, payment.id, actor=SYSTEM, source="redirect", limiter_timeout=2.0)
        payment = _find(engine, order_id) or payment
    return _view(payment, cancel=cancel, attempt=attempt)


def _view(payment: Payment, *, cancel: bool, attempt: int) -> Landing:
    still_open = payment.expires_at is None or as_utc(payment.expires_at) > utcnow()
    url = payment.link_url or ""
    retry = url if url.startswith(("https://", "http://")) and still_open else None

    def view(kind: str, *, retry_url: str | None = None, refresh: bool = False) -> Landing:
        return Landing(kind, order_id=payment.order_id, language="ar" if payment.language == "ar" else "en",
                       amount_fils=payment.amount_fils, currency=payment.currency, retry_url=retry_url,
                       refresh=refresh, receipt=receipt_of(payment) if payment.status == PaymentStatus.PAID else None)

    if payment.status == PaymentStatus.PAID:
        return view("paid")
    if payment.status == PaymentStatus.EXPIRED or (payment.status == PaymentStatus.PENDING and not still_open):
        return view("expired")
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
        return view("failed", retry_url=retry)
    if cancel and attempt >= CANCEL_ATTEMPTS:
        # the gateway sends unpaid attempts to the cancel URL (§9.1); a few verified checks later it is still
        # unpaid, so offering the link again is safe (the page never claims anything the gateway did not say)
        return view("not_completed", retry_url=retry)
    if attempt >= MAX_ATTEMPTS:
        return view("stalled")
    return view("pending", refresh=True)


def receipt_of(payment: Payment) -> Receipt:
    """The receipt of a paid payment (the caller has checked that the gateway confirmed it)."""
    return Receipt(order_id=payment.order_id, amount_fils=payment.amount_fils, currency=payment.currency,
                   method=payment.method, paid_at=payment.paid_at, payment_id=payment.payment_id,
                   track_id=payment.track_id, reference=payment.reference)


def receipt_view(engine: Engine, *, order_id: str) -> Landing:
    """The saved receipt of one of our payment links (for the link staff send over WhatsApp): only what the cache
    already holds as verified paid; no gateway look-up, nothing from the URL but the order id."""
    if not _ORDER_ID.match(order_id or ""):
        return Landing("unknown")
    payment = _find(engine, order_id)  # our links only
    if payment is None or payment.status != PaymentStatus.PAID:
        return Landing("unknown")
    return _view(payment, cancel=False, attempt=0)
