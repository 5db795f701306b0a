"""Crash: the refund runs in a subprocess that dies (os._exit) between intent and call, or between call and record.

After the "restart" (this test process), nothing is lost and nothing is doubled: a fresh ``sending`` intent is
left alone (its sender might still be alive), a stale one is settled from check-refund, and a rerun with the
same idempotency key never calls the gateway again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.models import RefundState
from services.permissions import SYSTEM
from services.refunds import RefundInFlight, request_refund, settle_uncertain
from services.refunds.ledger import CRASH_AFTER_GATEWAY, CRASH_AFTER_INTENT, CRASH_ENV
from tests.factories import make_db, make_staff
from tests.integration.test_refunds_support import (
    captured_payment,
    client_for,
    gateway_refunds,
    our_refunds,
    references,
    refunded_fils,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import sys
from services.db import make_engine
from services.gateway import UPaymentsClient
from services.permissions import Actor, Role
from services.refunds import request_refund

db_url, api_base, email, payment_pk, amount, key = sys.argv[1:]
with UPaymentsClient(api_base, "jtest123", timeout=5) as client:
    request_refund(make_engine(db_url), client, Actor(email, Role.FINANCE), payment_pk=int(payment_pk),
                   amount_fils=int(amount), reason="customer_request", idempotency_key=key)
print("survived")
"""
NOW: dict[str, Any] = {"sending_stale_after": timedelta(0), "absent_grace": timedelta(0)}


def _crashing_refund(engine, sandbox, email: str, payment, amount: int, key: str, point: str) -> None:
    env = {**os.environ, CRASH_ENV: point, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(engine.url), sandbox.api_base, email,
                           str(payment.id), str(amount), key], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 77, proc.stderr[-2000:]
    assert "survived" not in proc.stdout


@pytest.mark.parametrize("point", [CRASH_AFTER_INTENT, CRASH_AFTER_GATEWAY])
def test_crash_then_restart_settles_without_loss_or_double(tmp_path, sandbox, point) -> None:
    engine = make_db(tmp_path)
    finance = make_staff(engine, "finance")
    with client_for(sandbox.api_base) as client:
        payment = captured_payment(engine, sandbox, client, 10_000)
        pk = payment.id or 0
        _crashing_refund(engine, sandbox, finance.email, payment, 4_000, "crashed-key", point)

        [intent] = our_refunds(engine, payment)
        assert intent.state == RefundState.SENDING and intent.idempotency_key == "crashed-key"
        reached_gateway = point == CRASH_AFTER_GATEWAY
        assert references(sandbox, payment) == (["crashed-key"] if reached_gateway else [])
        # "Restart": a fresh `sending` intent may belong to a live sender, so it is neither settled nor bypassed.
        assert settle_uncertain(engine, client, actor=SYSTEM) == 0
        with pytest.raises(RefundInFlight):
            request_refund(engine, client, finance, payment_pk=pk, amount_fils=1_000, reason="duplicate",
                           idempotency_key="other")
        # Once it is stale it is settled from check-refund — before anything is sent again.
        assert settle_uncertain(engine, client, actor=SYSTEM, **NOW) == 1
        [settled] = our_refunds(engine, payment)
        if reached_gateway:
            [record] = gateway_refunds(sandbox, payment)
            assert settled.state == RefundState.INITIATED
            assert settled.gateway_refund_order_id == record["refund_order_id"]
            assert refunded_fils(engine, payment) == 4_000
        else:
            assert settled.state == RefundState.FAILED and "never reached UPayments" in str(settled.error)
            assert refunded_fils(engine, payment) == 0
        # The same form resubmitted (same key) finds the intent and calls nothing.
        rerun = request_refund(engine, client, finance, payment_pk=pk, amount_fils=4_000,
                               reason="customer_request", idempotency_key="crashed-key")
        assert rerun.id == settled.id and rerun.state == settled.state
        # And a new refund for the rest is exactly what remains.
        rest = 6_000 if reached_gateway else 10_000
        fresh = request_refund(engine, client, finance, payment_pk=pk, amount_fils=rest, reason="duplicate",
                               idempotency_key="after-restart")
        assert fresh.state == RefundState.INITIATED
    expected = (["crashed-key"] if reached_gateway else []) + ["after-restart"]
    assert references(sandbox, payment) == expected
    assert refunded_fils(engine, payment) == 10_000
    assert sum(int(r["amount_fils"]) for r in gateway_refunds(sandbox, payment)) == 10_000
