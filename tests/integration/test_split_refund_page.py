"""The refunds page's split-payment section in AppTest against the sandbox: vendors shown, amounts set, sent once."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.server import RunningSandbox
from services.models import RefundState
from services.permissions import Role
from services.refunds import request_refund
from tests.apptest import PAGES, page_env, run_page
from tests.factories import make_staff
from tests.integration.test_refunds_support import client_for, gateway_refunds, our_refunds
from tests.integration.test_split_refunds import IBAN_A, IBAN_B, split_payment

PAGE = PAGES / "refunds.py"


@pytest.fixture
def env(tmp_path: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch):
    with page_env(tmp_path, monkeypatch, environment="sandbox", gateway_url=sandbox.api_base,
                  SOUQ_GATEWAY_TOKEN="jtest123", SOUQ_STATUS_RATE_PER_MINUTE="600",
                  SOUQ_REFUND_APPROVAL_THRESHOLD_FILS="100000") as engine:
        yield engine


def test_finance_completes_a_split_refund_from_the_page(env, sandbox) -> None:
    finance = make_staff(env, Role.FINANCE, "fahad@shop.test")
    with client_for(sandbox.api_base) as client:
        payment = split_payment(env, sandbox, client)
        refund = request_refund(env, client, finance, payment_pk=payment.id or 0, amount_fils=5_000,
                                reason="customer_request", idempotency_key="page-split")
    assert refund.state == RefundState.NEEDS_SPLIT
    at = run_page(PAGE, "fahad@shop.test", payment=payment.order_id)
    assert not at.exception
    shown = " ".join(m.value for m in at.markdown)
    assert "split payment: set the amount to refund from each vendor" in shown
    inputs = [t for t in at.text_input if t.key and t.key.startswith(f"refund_split_{refund.id}_")]
    assert len(inputs) == 2 and IBAN_A in inputs[0].label and IBAN_B in inputs[1].label
    inputs[0].input("3")
    inputs[1].input("2.000")
    next(b for b in at.button if b.label == "Send per-vendor refund").click().run()
    assert not at.exception
    [sent] = our_refunds(env, payment)
    assert sent.state == RefundState.INITIATED and sent.amount_fils == 5_000
    assert sorted(r["amount_fils"] for r in gateway_refunds(sandbox, payment)) == [2_000, 3_000]
    assert any("initiated with UPayments" in s.value for s in at.success)
