"""The refunds page in AppTest: roles, the confirmation dialog, approvals (no gateway call is needed for these)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from services.models import Refund, RefundState
from services.permissions import Role
from tests.apptest import PAGES, page_env, run_page, shown
from tests.factories import make_payment, make_refund, make_staff

PAGE = PAGES / "refunds.py"


@pytest.fixture
def env(tmp_path, monkeypatch):
    # the closed gateway: nothing may reach it here
    with page_env(tmp_path, monkeypatch, SOUQ_REFUND_APPROVAL_THRESHOLD_FILS="100000") as engine:
        yield engine


def _page(email: str, **query: str) -> AppTest:
    return run_page(PAGE, email, **query)


def _refunds(engine) -> list[Refund]:
    with Session(engine) as session:
        return list(session.exec(select(Refund).order_by(col(Refund.id))).all())


def test_viewer_sees_the_amounts_but_no_refund_form(env) -> None:
    make_staff(env, Role.VIEWER, "vic@shop.test")
    make_payment(env, order_id="ORD-1", amount_fils=12_500, status="paid", upay_order_id="U1",
                 customer_name="Huda")
    at = _page("vic@shop.test", payment="ORD-1")
    assert not at.exception
    assert [m.value for m in at.metric] == ["12.500 KWD", "0.000 KWD", "0.000 KWD", "12.500 KWD"]
    assert all(b.label not in ("Review refund", "Refresh statuses") for b in at.button)
    assert "can see refunds but not make them" in " ".join(c.value for c in at.caption)
    assert all(b.label != "Export CSV" for b in at.download_button)


def test_finance_reviews_confirms_a_large_refund_which_waits_for_approval(env) -> None:
    make_staff(env, Role.FINANCE, "fahad@shop.test")
    make_staff(env, Role.FINANCE, "noura@shop.test")
    make_payment(env, order_id="ORD-2", amount_fils=250_000, status="paid", upay_order_id="U2",
                 customer_name="Huda", method="card")
    at = _page("fahad@shop.test", payment="ORD-2")
    assert "refund_amount" not in [t.key for t in at.text_input]  # "Full remaining amount": no amount box
    at.radio(key="refund_kind").set_value("Partial amount").run()  # the amount box appears for a partial refund
    at.text_input(key="refund_amount").input("150.5")
    at.button[[b.label for b in at.button].index("Review refund")].click().run()
    assert not at.exception
    key = at.session_state["refund_confirm"]["key"]
    dialog_text = shown(" ".join(m.value for m in at.markdown))  # amounts and ids are escaped Markdown
    assert "150.500 KWD" in dialog_text and "Huda" in dialog_text
    assert "paid by Card" in dialog_text
    at.button(key="refund_confirm_yes").click().run()
    assert not at.exception
    [refund] = _refunds(env)
    assert (refund.state, refund.amount_fils, refund.idempotency_key) == ("pending_approval", 150_500, key)
    assert "another finance or admin person must approve" in at.info[0].value
    # The requester can only withdraw; the other finance person gets Approve/Reject.
    assert at.button(key=f"refund_withdraw_{refund.id}") and all(
        b.key != f"refund_approve_{refund.id}" for b in at.button)
    other = _page("noura@shop.test", payment="ORD-2")
    other.text_input(key=f"refund_reject_note_{refund.id}").input("Customer kept the item")
    other.button(key=f"refund_reject_{refund.id}").click().run()
    assert not other.exception
    assert [r.state for r in _refunds(env)] == [RefundState.REJECTED]


def test_go_back_closes_the_dialog_without_a_refund(env) -> None:
    make_staff(env, Role.ADMIN, "amal@shop.test")
    make_payment(env, order_id="ORD-3", amount_fils=5_000, status="paid", upay_order_id="U3")
    at = _page("amal@shop.test", payment="ORD-3")
    at.button[[b.label for b in at.button].index("Review refund")].click().run()
    assert at.session_state["refund_confirm"]["amount_fils"] == 5_000  # full remaining by default
    at.button(key="refund_confirm_no").click().run()
    assert "refund_confirm" not in at.session_state and _refunds(env) == []


def test_bad_amount_and_missing_note_are_one_sentence_errors(env) -> None:
    make_staff(env, Role.FINANCE, "fahad@shop.test")
    make_payment(env, order_id="ORD-4", amount_fils=5_000, status="paid", upay_order_id="U4")
    at = _page("fahad@shop.test", payment="ORD-4")
    at.radio(key="refund_kind").set_value("Partial amount").run()  # the amount box appears for a partial refund
    at.text_input(key="refund_amount").input("1.2345")
    at.button[[b.label for b in at.button].index("Review refund")].click().run()
    assert "decimal" in at.error[0].value.lower() and "refund_confirm" not in at.session_state
    at.text_input(key="refund_amount").input("1")
    at.selectbox(key="refund_reason").set_value("other")
    at.button[[b.label for b in at.button].index("Review refund")].click().run()
    assert "write a note" in at.error[0].value and "refund_confirm" not in at.session_state


def test_unpaid_payment_says_why_it_cannot_be_refunded(env) -> None:
    make_staff(env, Role.FINANCE, "fahad@shop.test")
    make_payment(env, order_id="ORD-5", amount_fils=5_000, status="pending", upay_order_id="U5")
    at = _page("fahad@shop.test", payment="ORD-5")
    assert "only paid payments can be refunded" in at.info[0].value
    assert all(b.label != "Review refund" for b in at.button)


def test_all_refunds_list_filters_by_requester_and_offers_export_to_finance(env) -> None:

    make_staff(env, Role.FINANCE, "fahad@shop.test")
    p = make_payment(env, order_id="ORD-6", amount_fils=500_000, status="paid", upay_order_id="U6")
    for i, who in enumerate(["fahad@shop.test", "noura@shop.test", "noura@shop.test"]):
        make_refund(env, p, idempotency_key=f"k{i}", amount_fils=1_000 * (i + 1), reason="duplicate",
                    requested_by=who, state=RefundState.REJECTED)
    at = _page("fahad@shop.test")
    assert not at.exception
    assert len(at.dataframe[0].value) == 3 and "3 refunds" in at.caption[0].value
    assert [b.label for b in at.download_button] == ["Export CSV"]
    at.selectbox(key="rf_who").set_value("noura@shop.test")
    at.button[[b.label for b in at.button].index("Apply filters")].click().run()
    assert list(at.dataframe[0].value["Amount"]) == ["3.000 KWD", "2.000 KWD"]


def test_a_long_approval_queue_is_shown_a_few_cards_at_a_time_and_every_one_is_reachable(env) -> None:
    make_staff(env, Role.FINANCE, "fahad@shop.test")
    made: list[int] = []
    for n in range(12):
        payment = make_payment(env, order_id=f"ORD-Q{n}", amount_fils=200_000, status="paid", upay_order_id=f"UQ{n}")
        refund = make_refund(env, payment, amount_fils=150_000, state=RefundState.PENDING_APPROVAL,
                             requested_by="noura@shop.test")
        assert refund.id is not None
        made.append(refund.id)
    at = _page("fahad@shop.test")
    seen: list[int] = []
    for _page_number in range(3):
        assert not at.exception
        assert any(h.value == "Awaiting approval (12)" for h in at.subheader)
        keys = [b.key or "" for b in at.button]
        cards = [int(key.rsplit("_", 1)[1]) for key in keys if key.startswith("refund_approve_")]
        assert 0 < len(cards) <= 5
        seen.extend(cards)
        if at.button(key="ra_next").disabled:
            break
        at.button(key="ra_next").click().run()
    assert sorted(seen) == sorted(made)  # each waiting refund on exactly one page
