"""Seed the sandbox database from the shared demo generator, so status look-ups of demo payments work."""

from __future__ import annotations

import itertools
import json
import logging
import random
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from services.demo import data as demodata
from services.timeutil import to_kuwait, utcnow

from .config import TOKEN_HOSTED
from .store import Row, iso
from .wire import build_redirect_url, redirect_params

if TYPE_CHECKING:
    from .core import Sandbox

log = logging.getLogger(__name__)
_SHOP = "https://souq-demo.example"  # placeholder merchant URLs of the demo history
_WEBHOOK_ANSWER = json.dumps({"success": True, "message": "Success", "data": None})


#: Share of captured, unrefunded wallet payments in the demo that were split between vendors (``extraMerchantData``);
#: wallets only, so the KNET and card payments the browser tests refund stay single-merchant.
SPLIT_SHARE = 0.05
SPLIT_SOURCES = frozenset({"apple-pay", "google-pay", "samsung-pay"})
#: The two example vendor IBANs of the docs (§11.2).
_IBANS = ("KW91KFHO0000000000051010173254", "KW31NBOK0000000000002010177457")


def _vendors(amount_fils: int) -> list[Row]:
    """Two vendors sharing a payment 60/40, with the docs' example commissions."""
    first = amount_fils * 6 // 10
    charges = {"knetCharge": "0.250", "knetChargeType": "fixed", "ccCharge": "2.5", "ccChargeType": "percentage"}
    return [{"iban": _IBANS[0], "amount_fils": first, "charges": charges},
            {"iban": _IBANS[1], "amount_fils": amount_fils - first, "charges": charges}]


def _rows(demo: demodata.DemoPayment, refund_due: str) -> tuple[Row, Row, list[Row]]:
    payment: Row = {
        "session_id": demo.session_id, "token": TOKEN_HOSTED, "merchant_order_id": demo.merchant_order_id,
        "reference": demo.reference, "order_reference": demo.merchant_order_id, "description": demo.description,
        "amount_fils": demo.amount_fils, "currency": demo.currency, "language": "en", "src": None,
        "notification_type": None, "invoice_code": None, "invoice_no": demo.invoice_id,
        "customer": json.dumps({k: v for k, v in (("name", demo.customer_name), ("mobile", demo.customer_phone),
                                                  ("email", demo.customer_email)) if v}),
        "products": "[]", "return_url": f"{_SHOP}/pay/return", "cancel_url": f"{_SHOP}/pay/cancel",
        "notify_url": f"{_SHOP}/webhooks/upayments", "customer_extra_data": None, "whitelabel": 0,
        "reserved_track_id": None, "created_at": iso(demo.created_at), "expires_at": None, "demo": 1,
    }
    rng = random.Random(demo.track_id)  # acquirer details the generator does not carry: derived, stable
    captured = demo.result == "CAPTURED"
    knet = demo.payment_type == "knet"
    attempt: Row = {
        "track_id": demo.track_id, "session_id": demo.session_id, "upay_order_id": demo.upay_order_id,
        "src": demo.src, "payment_type": demo.payment_type, "result": demo.result, "payment_id": demo.payment_id,
        "tran_id": demodata.digits(rng, 15) if knet else "", "ref": demodata.digits(rng, 12) if knet else "",
        "auth": demodata.alnum(rng, 6).upper() if captured else "",
        "post_date": to_kuwait(demo.created_at).strftime("%m%d") if knet else "",
        "created_at": iso(demo.created_at), "notify_called": 1, "notify_response": _WEBHOOK_ANSWER,
        "notify_attempts": 1,
    }
    if (captured and not demo.refunds and demo.src in SPLIT_SOURCES and demo.amount_fils >= 2_000
            and rng.random() < SPLIT_SHARE):
        payment["extra_merchants"] = json.dumps(_vendors(demo.amount_fils))
    base = payment["return_url"] if captured else payment["cancel_url"]
    attempt["redirect_url"] = build_redirect_url(base, redirect_params(payment, attempt))
    refunds = [
        {"refund_order_id": r.refund_order_id, "order_id": r.gateway_order_id, "upay_order_id": demo.upay_order_id,
         "amount_fils": r.amount_fils, "currency": demo.currency, "arn": r.created_at.strftime("%Y%m%d")
         + demodata.digits(rng, 22), "state": "refunded" if r.refunded_at else "initiated",
         "created_at": iso(r.created_at), "due_at": iso(r.refunded_at) if r.refunded_at else refund_due,
         "refunded_at": iso(r.refunded_at) if r.refunded_at else None, "deleted_at": None, "request": None}
        for r in demo.refunds
    ]
    return payment, attempt, refunds


def seed_demo(sandbox: Sandbox) -> int:
    """Insert the demo history ending on ``config.demo_anchor`` once (idempotent); returns payments added."""
    cfg = sandbox.config
    if cfg.demo_anchor is None:
        return 0
    until = cfg.demo_until.isoformat() if cfg.demo_until else ""
    marker = f"{cfg.demo_anchor.isoformat()}:{cfg.demo_count}:{cfg.demo_days}:{until}"
    if sandbox.store.get_value("demo_seeded") == marker:
        return 0
    started = time.perf_counter()
    # Refunds still initiated in the history complete one refund delay after seeding.
    refund_due = iso(utcnow() + timedelta(seconds=cfg.refund_delay_seconds))
    payments: list[Row] = []
    attempts: list[Row] = []
    refunds: list[Row] = []
    history = itertools.chain(demodata.generate(cfg.demo_anchor, days=cfg.demo_days, count=cfg.demo_count,
                                                until=cfg.demo_until),
                              demodata.regular_payments(cfg.demo_anchor, days=cfg.demo_days))
    for demo in history:
        payment, attempt, extra = _rows(demo, refund_due)
        payments.append(payment)
        attempts.append(attempt)
        refunds.extend(extra)
    sandbox.store.bulk_insert(payments, attempts, refunds)
    seed_saved_cards(sandbox)
    sandbox.store.set_value("demo_seeded", marker)
    log.info("seeded %d demo payments in %.2f s", len(payments), time.perf_counter() - started)
    return len(payments)


def seed_saved_cards(sandbox: Sandbox) -> None:
    """Each demo regular's customer token and saved test card (token derived from the customer: deterministic)."""
    import hashlib

    from services.customer_keys import unique_token

    for _name, phone, _email, number in demodata.REGULARS:
        customer = unique_token(phone)
        card = str(10**15 + int(hashlib.sha256(f"{customer}|{number}".encode()).hexdigest(), 16) % (9 * 10**15))
        sandbox.cards.register(customer)
        if sandbox.cards.card(card) is None:
            sandbox.cards.save(customer, number, token=card)
