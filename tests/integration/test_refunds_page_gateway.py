"""The refunds page (AppTest) against the sandbox: a refund goes out once, a balance refusal is one sentence."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from services.permissions import Role
from tests.apptest import PAGES, page_env, run_page, shown
from tests.factories import make_staff
from tests.integration.test_refunds_support import captured_payment, client_for, our_refunds, references

PAGE = PAGES / "refunds.py"


@pytest.fixture
def env(tmp_path, monkeypatch, sandbox):
    with page_env(tmp_path, monkeypatch, gateway_url=sandbox.api_base) as engine:
        yield engine


def _refund(at: AppTest, amount: str) -> AppTest:
    at.radio(key="refund_kind").set_value("Partial amount").run()  # the amount box appears for a partial refund
    at.text_input(key="refund_amount").input(amount)
    at.button[[b.label for b in at.button].index("Review refund")].click().run()
    return at.button(key="refund_confirm_yes").click().run()


def test_page_sends_once_shows_outcomes_and_tracks(env, sandbox) -> None:
    make_staff(env, Role.FINANCE, "fahad@shop.test")
    with client_for(sandbox.api_base) as client:
        payment = captured_payment(env, sandbox, client, 20_000)
    at = run_page(PAGE, "fahad@shop.test", name=False, payment=payment.order_id)

    _refund(at, "5")
    assert not at.exception
    assert "Refund of 5.000 KWD initiated with UPayments" in shown(at.success[0].value)
    at.run()  # a rerun sends nothing again
    assert references(sandbox, payment) == [our_refunds(env, payment)[0].idempotency_key]

    sandbox.configure(merchant_balance_fils=1_000)
    _refund(at, "2")
    assert shown(at.error[0].value).startswith("UPayments refused the refund: Insufficient balance")
    assert "Top up your UPayments balance" in shown(at.error[0].value)  # what to do, not a generic error
    assert len(references(sandbox, payment)) == 1
    # captured, already refunded (executed), pending (initiated, not executed yet), refundable now
    assert [m.value for m in at.metric] == ["20.000 KWD", "0.000 KWD", "5.000 KWD", "15.000 KWD"]

    sandbox.settle_refunds()
    at.button(key="refund_refresh").click().run()
    table = at.table[0].value
    assert list(table["State"]) == ["Failed", "Refunded"]
    assert [m.value for m in at.metric] == ["20.000 KWD", "5.000 KWD", "0.000 KWD", "15.000 KWD"]
