"""The simulator's behaviour, independent of HTTP: charges, payment attempts, status, refunds, deposits."""

from __future__ import annotations

import json
import logging
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.settlements.schedule import demo_held_capture_day, deposit_time
from services.timeutil import format_gateway_time, to_kuwait, utcnow

from . import ids
from .config import SandboxConfig, is_white_label, merchant_prefix
from .faults import FaultState
from .limiter import SlidingWindow
from .store import Refusal, Row, Store, from_iso, iso
from .validation import ChargeRequest, RefundRequest
from .webhooks import WebhookSender
from .wire import PAY_SOURCES, build_redirect_url, payment_type_for, redirect_params, transaction

log = logging.getLogger(__name__)


class NotFound(Exception):
    """No such payment / refund."""


@dataclass
class Completion:
    """One finished payment attempt."""

    payment: Row
    attempt: Row
    redirect_url: str
    webhook: Future[bool] | None


class Sandbox:
    """State and operations of one sandbox instance (shared by the API, the hosted page and the admin API)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.store = Store(config.db_path)
        self.store.init_balance(config.merchant_balance_fils)
        self.webhooks = WebhookSender(config, self.store)
        self.status_limiter = SlidingWindow(lambda: self.config.status_limit_per_minute)
        #: Every get-payment-status call that reached the API, in arrival order (tests count look-ups here).
        self.status_calls: list[dict[str, str | int]] = []
        self.faults = FaultState()
        from .cards import Vault

        self.cards = Vault(self)
        if config.demo_anchor is not None:
            from .demo import seed_demo

            seed_demo(self)

    def public_base(self) -> str:
        """Base URL of links this sandbox hands out."""
        return (self.config.public_url or "http://localhost:8600").rstrip("/")

    def close(self) -> None:
        """Stop webhook threads and close the database."""
        self.webhooks.close()
        self.cards.close()
        self.store.close()

    # ------------------------------------------------------------ charges

    def create_charge(self, req: ChargeRequest, token: str) -> dict[str, Any]:
        """Store a charge and return the response ``data`` (§4.2, §5, §16 A13/A18)."""
        now = utcnow()
        session = ids.session_id()
        paying_src = req.src if req.src in PAY_SOURCES else None
        invoice = ids.invoice_code() if req.src == "create-invoice" else None
        row: Row = {
            "session_id": session, "token": token, "merchant_order_id": req.merchant_order_id,
            "reference": req.reference, "order_reference": req.order_reference, "description": req.description,
            "amount_fils": req.amount_fils, "currency": req.currency, "language": req.language, "src": req.src,
            "notification_type": req.notification_type, "invoice_code": invoice, "invoice_no": ids.invoice_number(),
            "customer": json.dumps(req.customer), "products": json.dumps(req.products),
            "return_url": req.return_url, "cancel_url": req.cancel_url, "notify_url": req.notify_url,
            "customer_extra_data": req.customer_extra_data,
            "whitelabel": int(is_white_label(token) or paying_src is not None),
            "reserved_track_id": ids.track_id() if paying_src else None, "created_at": iso(now),
            "expires_at": iso(now + timedelta(minutes=req.expiry_minutes)) if req.expiry_minutes else None,
            "demo": 0,
            "extra_merchants": json.dumps(req.extra_merchants) if req.extra_merchants else None,
        }
        self.store.insert_payment(row)
        base = self.public_base()
        if invoice is not None:
            kind = req.notification_type
            # Sandbox sends nothing (§5); the flags echo the channels asked for, so a demo shows them.
            return {"sms": kind in ("sms", "all"), "email": kind in ("email", "all"), "link": True,
                    "url": f"{base}/invoice/{invoice}", "invoice_id": invoice}
        data: dict[str, Any] = {"link": f"{base}/pay/{session}"}
        if paying_src:
            data["trackId"] = row["reserved_track_id"]
        data["session_id"] = session  # key name simulator-chosen (§16 A13)
        return data

    def is_expired(self, payment: Row, now: datetime | None = None) -> bool:
        """Past ``paymentLinkExpiryInMinutes`` and not paid: the link can no longer be paid."""
        expires = from_iso(payment["expires_at"])
        if expires is None or (now or utcnow()) < expires:
            return False
        return not any(a["result"] == "CAPTURED" for a in self.store.attempts(payment["session_id"]))

    def allowed_sources(self, payment: Row) -> tuple[str, ...]:
        """White-label charges can be paid only with their ``src``; hosted ones with any method."""
        return (payment["src"],) if payment["src"] in PAY_SOURCES else PAY_SOURCES

    def complete(self, session_id: str, src: str, result: str) -> Completion:
        """Finish an attempt as the hosted page does: ids, redirect URL, webhook in the background."""
        payment = self.store.payment(session_id)
        if payment is None:
            raise NotFound("No payment with this session id.")
        if self.is_expired(payment):
            raise Refusal("This payment link has expired.")
        if src not in self.allowed_sources(payment):
            raise Refusal(f"Method {src!r} is not offered for this payment.")
        reserved = payment["reserved_track_id"]
        track = reserved if reserved and self.store.attempt(reserved) is None else ids.track_id()
        now = utcnow()
        payment_type = payment_type_for(src)
        acq = ids.acquirer_ids(payment_type, now, captured=result == "CAPTURED")
        attempt: Row = {
            "track_id": track, "session_id": session_id, "src": src, "payment_type": payment_type,
            "upay_order_id": ids.upay_order_id(merchant_prefix(payment["token"]), payment["merchant_order_id"], now),
            "result": result, "payment_id": acq.payment_id, "tran_id": acq.tran_id, "ref": acq.ref,
            "auth": acq.auth, "post_date": acq.post_date, "created_at": iso(now), "notify_called": 0,
            "notify_response": None, "notify_attempts": 0,
        }
        params = redirect_params(payment, attempt, payment_method=self.config.convenient("payment_method"))
        base = payment["return_url"] if result == "CAPTURED" else payment["cancel_url"]
        attempt["redirect_url"] = build_redirect_url(base, params, quirk=self.config.redirect_quirk)
        self.store.add_attempt(attempt)
        log.info("payment %s attempt %s: %s via %s", payment["merchant_order_id"], track, result, src)
        webhook = self.webhooks.send(track, payment["notify_url"], params) if payment["notify_url"] else None
        return Completion(payment, attempt, attempt["redirect_url"], webhook)

    # ------------------------------------------------------------ status

    def find(self, *, track_id: str | None = None, session_id: str | None = None,
             invoice_id: str | None = None) -> tuple[Row, Row | None]:
        """The charge and the attempt a status look-up refers to (NotFound if unknown)."""
        payment: Row | None = None
        attempt: Row | None = None
        if track_id:
            attempt = self.store.attempt(track_id)
            if attempt is not None:
                payment = self.store.payment(attempt["session_id"])
            else:
                payment = self.store.payment_by_reserved_track(track_id)
        elif session_id or invoice_id:
            # §18 F6: live takes create-invoice's opaque id here, not the redirect's numeric invoice_id
            numeric = self.config.convenient("numeric_invoice_lookup")
            payment = (self.store.payment(session_id) if session_id
                       else self.store.payment_by_invoice(invoice_id or "", numeric=numeric))
            if payment is not None:
                attempt = self.store.latest_attempt(payment["session_id"])
        if payment is None:
            raise NotFound("Transaction not found.")
        return payment, attempt

    def status(self, *, track_id: str | None = None, session_id: str | None = None,
               invoice_id: str | None = None) -> dict[str, Any]:
        """``data.transaction`` for a track id, session id or invoice id."""
        payment, attempt = self.find(track_id=track_id, session_id=session_id, invoice_id=invoice_id)
        return transaction(payment, attempt, expired=attempt is None and self.is_expired(payment),
                           payment_method=self.config.convenient("payment_method"))

    def deposit_at(self, attempt: Row) -> datetime | None:
        """When this attempt's money is deposited (None: never — not captured, or the demo's held day).

        Business-day clock: 17:00 Kuwait on the next Kuwaiti business day (holidays skipped). Demo mode
        compresses it for payments made while running (``deposit_delay_seconds``).
        """
        if attempt["result"] != "CAPTURED":
            return None
        when = from_iso(attempt["created_at"])
        assert when is not None
        payment = self.store.payment(attempt["session_id"])
        history = bool(payment and payment["demo"])
        if history and self.config.demo_anchor is not None:
            if to_kuwait(when).date() == demo_held_capture_day(self.config.demo_anchor):
                return None  # the bank is "late" with this day: the demo's overdue example
        elif self.config.deposit_delay_seconds is not None:
            return when + timedelta(seconds=self.config.deposit_delay_seconds)
        return deposit_time(to_kuwait(when).date())

    def deposit(self, track_id: str) -> dict[str, Any]:
        """``get-deposit-status``: ``"Yes"`` with date and invoice once deposited (§18 F11), else ``"No"``."""
        attempt = self.store.attempt(track_id)
        if attempt is None:
            raise NotFound("Transaction not found.")
        deposited_at = self.deposit_at(attempt)
        if deposited_at is None or utcnow() < deposited_at:
            return {"deposited": "No", "deposited_date": None, "invoice_url": None}
        return {"deposited": "Yes", "deposited_date": format_gateway_time(deposited_at),
                "invoice_url": f"{self.public_base()}/deposit/{track_id}"}

    # ------------------------------------------------------------ refunds

    def create_refund(self, req: RefundRequest, token: str) -> Row:
        """A new initiated refund (§12.1); Refusal when the business rules say no."""
        now = utcnow()
        self.store.settle_due(now)
        order_id, refund_order_id, arn = ids.refund_ids(merchant_prefix(token), now)
        row: Row = {
            "refund_order_id": refund_order_id, "order_id": order_id, "upay_order_id": req.upay_order_id,
            "amount_fils": req.amount_fils, "currency": req.currency, "arn": arn, "state": "initiated",
            "created_at": iso(now), "due_at": iso(now + timedelta(seconds=self.config.refund_delay_seconds)),
            "refunded_at": None, "deleted_at": None, "request": json.dumps(req.raw, default=str),
        }
        return self.store.create_refund(row)

    def refunds_of(self, order_id: str) -> list[Row]:
        """Non-deleted refunds of a payment (its UPayments order id), or the one refund with this orderId."""
        self.store.settle_due(utcnow())
        if self.store.attempt_by_upay_order(order_id) is not None:
            return self.store.refunds(order_id)
        refund = self.store.refund_by_order_id(order_id)
        if refund is None:
            raise NotFound("Order not found.")
        return [refund] if refund["state"] != "deleted" else []

    def delete_refund(self, order_id: str, refund_order_id: str) -> Row:
        """Cancel an initiated refund (§12.2): ``orderId`` is the refund's own (create-refund's answer)."""
        return self.store.delete_refund(refund_order_id, order_id, utcnow(),
                                        lenient=self.config.convenient("lenient_delete_refund"))

    def settle_refunds(self) -> int:
        """Make every initiated refund refunded now (admin)."""
        return self.store.settle_due(utcnow(), all_now=True)

    def internal_record(self, merchant_order_id: str) -> dict[str, Any]:
        """Everything stored about the latest charge with this merchant order id (admin, for assertions)."""
        payment = self.store.payment_by_merchant_order(merchant_order_id)
        if payment is None:
            raise NotFound("No payment with this merchant order id.")
        self.store.settle_due(utcnow())
        expired = self.is_expired(payment)
        attempts = self.store.attempts(payment["session_id"])
        refunds = [r for a in attempts for r in self.store.refunds(a["upay_order_id"], include_deleted=True)]
        for attempt in attempts:
            attempt["notify_response"] = json.loads(attempt["notify_response"] or "null")
        payment = {**payment, "customer": json.loads(payment["customer"]), "products": json.loads(payment["products"])}
        return {"payment": payment, "attempts": attempts, "refunds": refunds, "expired": expired,
                "balance_fils": self.store.balance()}
